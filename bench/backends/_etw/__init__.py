"""What the ETW-based backends (``etw``, ``sysmon``) share: pure event helpers (``events``) and, on Windows, the session and consumer code."""
