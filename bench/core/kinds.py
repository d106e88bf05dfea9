"""Normalized event kinds shared by workloads, backends and the correlator.

Kinds are small integers so that events and ground truth travel as numpy arrays.
"""

from enum import IntEnum


class Kind(IntEnum):
    file_create = 1
    file_write = 2
    file_rename = 3
    file_delete = 4
    proc_fork = 5
    proc_exec = 6
    proc_exit = 7
    net_connect = 8
    net_accept = 9
    net_send = 10


FILE_KINDS = frozenset({Kind.file_create, Kind.file_write, Kind.file_rename, Kind.file_delete})
PROC_KINDS = frozenset({Kind.proc_fork, Kind.proc_exec, Kind.proc_exit})
NET_KINDS = frozenset({Kind.net_connect, Kind.net_accept, Kind.net_send})
ALL_KINDS = FILE_KINDS | PROC_KINDS | NET_KINDS

# File events are keyed by path; the others by an integer (pid or port pair).
PATH_KEYED = FILE_KINDS


def port_pair(client_port: int, server_port: int) -> int:
    """Network correlation key: (client port, server port) packed in one integer.

    Client is the connecting / sending side, server the listening / receiving side, so a
    connect and its accept share the key.
    """
    return (client_port << 16) | server_port
