"""A run with fewer seeds than the section it replaces (`make run` after `python train.py --seeds 3`) keeps the
section's other seeds when they were made as this run would make them: one seed never silently takes the place
of three. Every record carries the digest of its key (keys.digest), so "made as this run would" is checked, not
assumed; a seed made with other settings, split, data or code is replaced, and the log says so in one line.

The section's date, command and commit are this run's; a kept seed keeps its own, in the result's "kept".
"""

import json

ORIGIN = ("date", "command", "commit")  # what a section says of the run that made it (report.update)


def keep(old, records, digests_of, log=print, name="students"):
    """(`records` with the seeds of `old` that this run did not train and would make alike, their origins).

    old: the section these records replace (its "result" holds {row: [record per seed]}), or None.
    records: this run's {row: [record per seed]}.
    digests_of(seed): {row: digest of the key} this run would give that seed's students.
    A seed is kept whole or not at all: every row of this run, with this run's key (its rows are paired)."""
    ran = {r["seed"] for runs in records.values() for r in runs}
    earlier = {seed: rows for seed, rows in by_seed(old).items() if seed not in ran}
    alike = [seed for seed, rows in earlier.items()
             if {row: rows.get(row, {}).get("key") for row in records} == digests_of(seed)]
    if earlier:
        log(line(name, alike, sorted(set(earlier) - set(alike)), ran, old))
    if not alike:
        return records, []
    merged = {row: sorted(runs + [earlier[seed][row] for seed in alike], key=lambda r: r["seed"])
              for row, runs in records.items()}
    if all(json.loads(json.dumps(merged[row])) == old["result"].get(row) for row in merged):
        return merged, old["result"].get("kept", [])  # the same records: the section stays as it was
    return merged, origins(old, alike)


def by_seed(section):
    """{seed: {row: record}} of a section's per-seed rows (the lists of records with a "seed")."""
    seeds = {}
    for row, runs in (section or {}).get("result", {}).items():
        if isinstance(runs, list):
            for r in runs:
                if isinstance(r, dict) and "seed" in r:
                    seeds.setdefault(r["seed"], {})[row] = r
    return dict(sorted(seeds.items()))


def origin(section, seed):
    """The date, command and commit of the run that made `seed`'s records of `section`."""
    for kept in section["result"].get("kept", []):
        if seed in kept["seeds"]:
            return {k: kept.get(k) for k in ORIGIN}
    return {k: section.get(k) for k in ORIGIN}


def origins(section, seeds):
    """[{"seeds": [...], date, command, commit}]: the kept seeds, grouped by the run that made them."""
    groups = {}
    for seed in seeds:
        made_by = origin(section, seed)
        groups.setdefault(tuple(made_by.values()), {"seeds": [], **made_by})["seeds"].append(seed)
    return list(groups.values())


def listed(seeds):
    seeds = sorted(seeds)
    return f"seed{'s' if len(seeds) != 1 else ''} {', '.join(map(str, seeds))}"


def described(group):
    commit = f" at commit {group['commit']}" if group.get("commit") else ""
    return f"`{group.get('command')}`{commit}, {group.get('date')}"


def line(name, kept, replaced, ran, old):
    """The one line a run with fewer seeds than the section it replaces logs."""
    parts = []
    made_by = lambda seeds: "; ".join(described(g) for g in origins(old, seeds))
    if kept:
        parts.append(f"kept the earlier results' {listed(kept)} ({made_by(kept)}): made with this run's settings, "
                     "split, data and code")
    if replaced:
        parts.append(f"replaced the earlier results' {listed(replaced)} ({made_by(replaced)}): made with other "
                     "settings, split, data or code (their keys differ from this run's)")
    return f"{name}: this run trained {listed(ran)}; " + "; ".join(parts)
