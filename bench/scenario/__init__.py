"""Failure scenarios, the reliability half of the comparison: what happens to the host and
to the data when a sensor crashes, stalls, gets a bad content update or is tampered with
(docs/scenarios.md).

A scenario is a normal cell with a fault schedule (``cell``); ``run`` runs one on each
backend into a results folder; ``faults`` holds the faults and what is looked at while
they last. The numbers come from ``bench.analysis.timeline``.
"""

# name -> what it does, as ``sensorbench scenario --help`` says it
SCENARIOS = {
    "crash": "SIGKILL the sensor at --at; a supervisor restarts it after --restart-ms",
    "stall": "SIGSTOP the sensor at --at, SIGCONT it --for seconds later",
    "bad-update": "send the running sensor a malformed content update at --at, through each "
                  "update path it has (rules, program); --canary sends it to a canary first",
    "tamper": "an adversary with root tries to blind the sensor at --at: each --technique "
              "(kill, stop, bpf-detach, audit-delete, audit-disable, flood, move-dir)",
}
