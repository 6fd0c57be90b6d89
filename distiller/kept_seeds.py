"""Results are never taken back by a run with fewer seeds.

The students stage keeps an earlier section's other seeds when they were made as this run would make them (`make
run` after `python train.py --seeds 3`): one seed never silently takes the place of three. Every record carries the
digest of its key (keys.digest), so "made as this run would" is checked, not assumed; a seed made with other
settings, split, data or code is replaced, and the log says so in one line. The section's date, command and commit
are this run's; a kept seed keeps its own, in the result's "kept".

The other stages that run several seeds (those with SEEDS, the config field counting their seeds) keep whole
sections instead (`place`): a run with fewer seeds and the same other settings writes its section beside the
earlier one, as "<section>, seeds=<n>"; a run with other settings, or with as many seeds or more, replaces it.
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


# --- whole sections: the stages with SEEDS (report.update) ---------------------------------------------------------

BESIDE = ", seeds="  # "<section>, seeds=<n>": a run with fewer seeds, beside the section it would have replaced
# Fields that decide no number of a section: where a run read and wrote, whether it retrained what it could have
# reused, where it found the committed paper teacher (its key is checked anyway).
NOT_SETTINGS = {"out_dir", "data_dir", "retrain", "retrain_paper_teacher", "paper_teacher"}


def beside(section, seeds):
    return f"{section}{BESIDE}{seeds}"


def seeds_in(name):
    return int(name.rsplit("=", 1)[1])


def beside_sections(results, section):
    """The names of the sections that runs with fewer seeds set beside `section`, most seeds first."""
    return sorted((name for name in results if name.startswith(section + BESIDE)), key=lambda name: -seeds_in(name))


def other_settings(old, new):
    """The fields, other than seed counts and NOT_SETTINGS, in which two sections' configs (dicts, as in
    results.json) differ. A field the older config lacks was added to Config since: it counts as the same."""
    counts_seeds = lambda field: field == "seeds" or field.endswith("_seeds")
    return sorted(f for f in old.keys() & new.keys()
                  if not counts_seeds(f) and f not in NOT_SETTINGS and old[f] != new[f])


def place(results, section, config, seeds, log=print):
    """(the name under which `section`, made with `config` (a dict), goes in `results`; the names it drops).

    seeds: the config field that counts the section's seeds (the stage's SEEDS), or a tuple of them (the first names
    a section set beside). With fewer seeds in any of them than the earlier section, and its other settings, the
    earlier one stays and the new one goes beside it (replacing those set beside with fewer still); otherwise it
    replaces the earlier one, and the sections set beside that are dropped with it."""
    old = results.get(section)
    if old is None:
        return section, []
    fields = (seeds,) if isinstance(seeds, str) else tuple(seeds)
    old_config = old.get("config", {})
    fewer = any(f in old_config and config[f] < old_config[f] for f in fields)
    n, differ = config[fields[0]], other_settings(old_config, config)
    if fewer and not differ:
        log(f"{section}: kept the earlier section of results.json ({old_config.get(fields[0])} seeds) as it was; this "
            f"run's {n} seed(s), with the same other settings, are written beside it as \"{beside(section, n)}\"")
        return beside(section, n), [b for b in beside_sections(results, section) if seeds_in(b) < n]
    dropped = beside_sections(results, section)
    if differ:
        log(f"{section}: replaced the earlier section of results.json, made with other settings ({', '.join(differ)})"
            + (f"; dropped {', '.join(map(repr, dropped))}, set beside it" if dropped else ""))
    elif dropped:
        log(f"{section}: this run's {n} seed(s) replace the earlier section and {', '.join(map(repr, dropped))}, "
            "set beside it with fewer")
    return section, dropped
