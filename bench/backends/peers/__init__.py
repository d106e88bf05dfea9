"""Real third-party sensors as backends: bpftrace, libbpf-tools, auditd, fatrace, forkstat,
inotifywait.

Each tool runs as a child of the sensor host (so its CPU and memory are the sensor's), its
text output is stamped with the monotonic receive time line by line and parsed into our
event kinds. ``adapter`` does the process handling shared by all tools; each other module
knows one tool: its command line, its output format and which kinds it can be matched on.
"""
