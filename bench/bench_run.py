"""`vaultfront run` end to end, next to OpenBao Agent's process supervisor and `import hvac`.

Launch to the child's exit, child `/bin/sh -c 'echo $SECRET_0000'`, 50 secrets in the
environment. References measured in the same run against the same dev server:

- `python -c pass` and `python -c "import hvac"` (the target: run within 1.3x of the latter);
- `bao agent` (same binary) with one `env_template` per secret (read the index, decrypt
  with the environment's key: the same work, Vault's own way) and an `exec` block.

Usage: python bench/bench_run.py [--repeats 15] [--agent-repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from executor_setup import dev_vault, seed

from vaultfront import layout
from vaultfront import vault_admin as operator
from vaultfront.config import DEFAULT_KV_MOUNT, DEFAULT_TRANSIT_MOUNT
from vaultfront.devserver import bao_binary

SECRETS = 50
CHILD = ["/bin/sh", "-c", "echo $SECRET_0000"]


def timed(command: list[str], env: dict[str, str], timeout: float = 60) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    elapsed = (time.perf_counter() - started) * 1000
    if result.returncode != 0:
        raise SystemExit(f"{command[:4]} failed ({result.returncode}): {result.stderr[-500:]}")
    return elapsed, result.stdout


def interleaved(
    commands: dict[str, list[str]], env: dict[str, str], repeats: int
) -> tuple[dict[str, float], dict[str, str]]:
    """Median ms of each command, run in turn within each round, so that other processes'
    load on these cores affects all of them alike."""
    times: dict[str, list[float]] = {label: [] for label in commands}
    outputs: dict[str, str] = {}
    for command in commands.values():
        timed(command, env)  # warm the page cache
    for _ in range(repeats):
        for label, command in commands.items():
            elapsed, outputs[label] = timed(command, env)
            times[label].append(elapsed)
    return {label: statistics.median(t) for label, t in times.items()}, outputs


def agent_config(workdir: Path, addr: str, org: str, names: list[str]) -> Path:
    index = f"{DEFAULT_KV_MOUNT}/data/{layout.index_path(org, 'staging')}"
    decrypt = f"{DEFAULT_TRANSIT_MOUNT}/decrypt/{layout.transit_key(org, 'staging')}"
    blocks = []
    for name in names:
        template = (
            f'{{{{ with secret "{index}" }}}}{{{{ $i := .Data.data.secrets | parseJSON }}}}'
            f'{{{{ with secret "{decrypt}" (printf "ciphertext=%s" (index $i "{name}").ct) }}}}'
            "{{ .Data.plaintext | base64Decode }}{{ end }}{{ end }}"
        )
        blocks.append(
            f'env_template "{name}" {{\n  contents = <<EOT\n{template}\nEOT\n'
            "  error_on_missing_key = true\n}\n"
        )
    command = ", ".join(f'"{part}"' for part in CHILD)
    config = workdir / "agent.hcl"
    config.write_text(
        f'vault {{ address = "{addr}" }}\n'
        'auto_auth {\n  method "approle" {\n    config = {\n'
        f'      role_id_file_path = "{workdir}/role_id"\n'
        f'      secret_id_file_path = "{workdir}/secret_id"\n'
        "      remove_secret_id_file_after_reading = false\n    }\n  }\n}\n"
        "template_config {\n  exit_on_retry_failure = true\n}\n"
        + "".join(blocks)
        + f'exec {{\n  command = [{command}]\n  restart_on_secret_changes = "never"\n}}\n'
    )
    return config


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--agent-repeats", type=int, default=3)
    args = parser.parse_args()
    python = sys.executable
    with dev_vault() as vault, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        org = "benchrun"
        values = seed(vault.root, org, "staging", SECRETS)
        creds = operator.executor_role(vault.root, org, "staging")
        env = {
            **os.environ,
            "VAULT_ADDR": vault.addr,
            "VAULTFRONT_EXECUTOR_ROLE_ID": creds.role_id,
            "VAULTFRONT_EXECUTOR_SECRET_ID": creds.secret_id,
            "HOME": tmp,
        }
        env.pop("VAULT_TOKEN", None)
        run_args = ["run", "--org", org, "--env", "staging", "--", *CHILD]

        commands = {
            "bare": [python, "-c", "pass"],
            "hvac": [python, "-c", "import hvac"],
            "run": [python, "-m", "vaultfront", *run_args],
        }
        script = Path(python).parent / "vaultfront"
        if script.exists():
            commands["script"] = [str(script), *run_args]
        medians, outputs = interleaved(commands, env, args.repeats)
        bare, hvac_ms, run_ms = medians["bare"], medians["hvac"], medians["run"]
        script_ms = medians.get("script")
        run_out = outputs["run"]

        (workdir / "role_id").write_text(creds.role_id)
        (workdir / "secret_id").write_text(creds.secret_id)
        config = agent_config(workdir, vault.addr, org, list(values))
        agent_runs = [
            timed([bao_binary(), "agent", f"-config={config}"], env, timeout=120)
            for _ in range(args.agent_repeats)
        ]
        agent_ms = statistics.median(t for t, _ in agent_runs)
        agent_out = agent_runs[-1][1]

    value = values["SECRET_0000"]
    print(f"vaultfront run end to end, {SECRETS} secrets, child {' '.join(CHILD)!r}")
    print(f"(medians of {args.repeats} runs; the agent: {args.agent_repeats} runs)\n")
    rows = [
        ("python -c pass", bare),
        ('python -c "import hvac"', hvac_ms),
        ("python -m vaultfront run", run_ms),
    ]
    if script_ms is not None:
        rows.append(("vaultfront run (console script)", script_ms))
    rows.append(("bao agent (env_template + exec)", agent_ms))
    for label, ms in rows:
        print(f"  {label:34s} {ms:8.1f} ms   {ms / hvac_ms:5.2f}x import hvac")
    print()
    print(f"  vaultfront run output: {run_out.strip()!r} (value masked: {value not in run_out})")
    agent_lines = agent_out.strip().splitlines()
    print(
        f"  bao agent output: {len(agent_lines)} lines, banner included: "
        f"{'OpenBao Agent' in agent_out or 'Version' in agent_out}, "
        f"value in clear: {value in agent_out}"
    )
    print(f"\n  target: vaultfront run <= 1.3x import hvac -> {run_ms / hvac_ms:.2f}x")


if __name__ == "__main__":
    main()
