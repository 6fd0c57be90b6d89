"""keras-tuner's own chief/worker mode on one machine: one chief serves trials, N workers run them.

On several machines, run the same command on each with these variables set by hand:
KERASTUNER_TUNER_ID (chief, tuner0, tuner1, ...), KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT
(the chief's address), and a project directory every machine shares.
"""

import os
import socket
import subprocess


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def launch(command, workers, host="127.0.0.1", port=None, timeout=None, env=None):
    """Run `command --role chief` and `command --role worker` N times, with this process's environment and `env`
    (variables to set); return their exit codes."""
    port = port or free_port(host)

    def start(tuner_id, role):
        variables = {**os.environ, **(env or {}), "KERASTUNER_TUNER_ID": tuner_id, "KERASTUNER_ORACLE_IP": host,
                     "KERASTUNER_ORACLE_PORT": str(port)}
        return subprocess.Popen([*command, "--role", role], env=variables)

    chief = start("chief", "chief")
    processes = [start(f"tuner{i}", "worker") for i in range(workers)]
    try:
        codes = [p.wait(timeout) for p in processes]
        codes.insert(0, chief.wait(timeout))  # the chief stops once every worker has asked and found no trial
    finally:
        for p in [chief, *processes]:
            if p.poll() is None:
                p.kill()
    return codes
