"""Reliability of ``spacy-biobert annotate`` on a hostile corpus: nothing lost, nothing duplicated, no crash.

    python -m spacy_biobert.benchmarks.reliability [--model PIPELINE] [--records 200] [--random 50]
        [--big-chars 1200000] [--kills 2] [--arms annotate1,annotate2,pipe] [--allowed-exit 0,3]
        [--seed 0] [--output metrics/benchmark_reliability.json] [--workdir DIR]

Builds the hostile corpus of ``reliability_corpus`` (its docstring lists every
case and what a correct run gives) and runs, per input (a JSONL folder with a
truncated .gz, a folder of lines, a PubMed XML file), three arms:

- ``annotate1`` / ``annotate2``: ``spacy-biobert annotate`` as a subprocess with
  ``--n-process 1`` / ``2``, SIGKILLed ``--kills`` times when its output has
  reached a random (seeded) number of records, and started again (resume) until
  it ends by itself;
- ``pipe``: ``nlp.pipe(as_tuples=True)`` in this process over the good records'
  texts as the benchmark itself read them (lone surrogates as U+FFFD, as the
  JSONL reader gives them; ``nlp.max_length`` raised to the longest, as
  ``annotate`` must); a batch that raises is redone one document at a time,
  and each document on which it raises is a crash.

Counted per arm, against the expectation computed by the corpus builder (not
by ``annotate``): records in (the good records), records out, records reported
bad by the last run's ``--summary`` (and how many a correct run reports),
duplicates (output lines beyond the first of an id), lost (good ids missing),
unexpected (ids that are not good records), corrupt output lines, crashes (a
run that ended by itself with an exit code outside ``--allowed-exit``, default
0 and 3, "finished, some records were bad", or with a traceback on stderr; or
a hung run: ``--timeout`` s in all or ``--stall`` s without a new output record),
kills, orphans (worker processes still alive 5 s after their parent was
killed), peak memory (the largest sum of the resident memory of the run's
process and its children, polled; for ``pipe`` this process's ``ru_maxrss``)
and the exit codes. The goal, printed last: 0 lost, 0 duplicated, 0 crashes.

Without ``--model`` a tiny random BERT pipeline (2 layers, 32 wide; untrained)
is built in the work folder: the benchmark is about what survives, not about
predictions. This is a benchmark script, not a test; its exit status is 1 when
the goal is not met.
"""

import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set

import typer

from .reliability_corpus import INPUTS, Corpus, Expected, build_corpus

ROOT = Path(__file__).resolve().parent.parent.parent
ARMS = ("annotate1", "annotate2", "pipe")
TRACEBACK = "Traceback (most recent call last)"
SURROGATE = re.compile("[\ud800-\udfff]")


def account(ids: Sequence[str], corrupt: int = 0, *, exp: Expected) -> Dict[str, int]:
    """The counts of an output (its ids, in order) against what a correct run gives."""
    counts = Counter(ids)
    good = set(exp.good)
    unknown = sum(1 for i in counts if i not in good)
    return {
        "records_in": len(good), "records_out": len(ids),
        "duplicates": sum(c - 1 for c in counts.values() if c > 1),
        "lost": len(good - set(counts)),
        "unexpected": max(0, unknown - exp.either),
        "corrupt_lines": corrupt,
    }


def read_output(path: Path) -> tuple:
    """(ids, corrupt lines) of a JSONL output; a line that is not a record with an id is corrupt."""
    ids: List[str] = []
    corrupt = 0
    if path.exists():
        for line in path.read_bytes().split(b"\n"):
            if not line.strip():
                continue
            try:
                ids.append(str(json.loads(line)["id"]))
            except (ValueError, KeyError, TypeError):
                corrupt += 1
    return ids, corrupt


def _proc_stat(pid: int) -> Optional[tuple]:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def children(pid: int) -> List[int]:
    """The live child processes of `pid` (Linux /proc; [] elsewhere)."""
    if not Path("/proc/self/stat").exists():
        return []
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat is not None and stat[1] == pid and stat[0] not in ("Z", "X"):
                out.append(int(entry.name))
    return out


def alive(pid: int) -> bool:
    stat = _proc_stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def rss_mb(pids: Sequence[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1024


def count_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except OSError:
        return 0


def one_run(cmd: List[str], out: Path, kill_at: Optional[int], allowed: Set[int], timeout: float,
            log: Path, stall: float = 300) -> Dict[str, Any]:
    """Run `cmd` once; SIGKILL it when `out` has `kill_at` lines, or as hung
    (a crash) after `timeout` s, or `stall` s without a new output line. RETURNS the run's facts."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    peak, killed, orphans, timed_out = 0.0, False, 0, False
    start = last_change = time.monotonic()
    lines = count_lines(out)
    with open(log, "wb") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        while proc.poll() is None:
            kids = children(proc.pid)
            peak = max(peak, rss_mb([proc.pid] + kids))
            now, have = time.monotonic(), count_lines(out)
            if have != lines:
                lines, last_change = have, now
            over = now - start > timeout or now - last_change > stall
            if over or (kill_at is not None and have >= kill_at):
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                killed, timed_out = not over, over
                orphans = _orphans(kids)
                break
            time.sleep(0.1)
    stderr = log.read_text(encoding="utf8", errors="replace")
    crash = timed_out or (not killed and (proc.returncode not in allowed or TRACEBACK in stderr))
    run = {"exit_code": proc.returncode, "killed": killed, "timed_out": timed_out, "crash": crash,
           "orphans": orphans, "peak_rss_mb": round(peak, 1)}
    if timed_out:
        run["error"] = f"hung: killed after {round(time.monotonic() - start)} s ({round(now - last_change)} s without output)"
    elif crash:
        lines = [line for line in re.split(r"[\r\n]+", stderr) if line.strip()]
        errors = [line for line in lines if re.match(r"[\w.]+(Error|Exception)\b", line)]
        run["error"] = (errors or lines or [""])[-1][:300]
    return run


def _orphans(workers: List[int]) -> int:
    """Workers of a killed run still alive after 5 s (then killed)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(w) for w in workers):
        time.sleep(0.1)
    left = [w for w in workers if alive(w)]
    for w in left:
        try:
            os.kill(w, signal.SIGKILL)
        except OSError:
            pass
    return len(left)


def run_annotate(model: str, name: str, inp: Path, exp: Expected, work: Path, n_process: int, kills: int,
                 rng: random.Random, allowed: Set[int], batch_size: int, timeout: float,
                 stall: float) -> Dict[str, Any]:
    """Annotate one input, killed `kills` times and resumed; RETURNS its runs and counts."""
    out, summary = work / f"{name}.jsonl", work / f"{name}.summary.json"
    cmd = [sys.executable, "-m", "spacy_biobert", "annotate", model, str(inp), str(out),
           "--batch-size", str(batch_size), "--n-process", str(n_process), "--summary", str(summary)]
    runs: List[Dict[str, Any]] = []
    for attempt in range(kills + 1):
        have = count_lines(out)
        remaining = len(exp.good) - have
        kill_at = have + rng.randint(1, remaining - 1) if attempt < kills and remaining > 1 else None
        if summary.exists():
            summary.unlink()
        run = one_run(cmd, out, kill_at, allowed, timeout, work / f"{name}.run{attempt}.log", stall)
        runs.append(run)
        if not run["killed"]:
            break
    ids, corrupt = read_output(out)
    result: Dict[str, Any] = account(ids, corrupt, exp=exp)
    last = json.loads(summary.read_text()) if summary.exists() else None
    result.update({
        "reported_bad": last["bad"] if last else None, "expected_bad": exp.bad, "either": exp.either,
        "unreadable": exp.unreadable, "runs": runs,
    })
    return result


def run_pipe(nlp: Any, exp: Expected, batch_size: int) -> Dict[str, Any]:
    """nlp.pipe over the good records of one input; RETURNS its counts.

    The texts are as the documented readers give them: lone surrogates (JSONL
    escapes) as U+FFFD. A batch that raises is redone one document at a time:
    `crashes` counts the documents on which nlp.pipe raised, `batch_failures`
    the batches."""
    items = [(i, SURROGATE.sub("\ufffd", t)) for i, t in exp.good.items()]
    if items:
        nlp.max_length = max(nlp.max_length, max(len(t) for _, t in items) + 1)
    ids: List[str] = []
    errors: List[str] = []
    batch_failures = 0
    step = batch_size * 4
    for start in range(0, len(items), step):
        chunk = items[start:start + step]
        try:
            ids += [i for _, i in nlp.pipe([(t, i) for i, t in chunk], as_tuples=True, batch_size=batch_size)]
        except Exception:  # noqa: BLE001 (every exception is a finding)
            batch_failures += 1
            done = set(ids)
            for i, t in chunk:
                if i in done:
                    continue
                try:
                    ids += [j for _, j in nlp.pipe([(t, i)], as_tuples=True)]
                except Exception as e:  # noqa: BLE001
                    errors.append(f"{i}: {type(e).__name__}: {str(e)[:200]}")
    result: Dict[str, Any] = account(ids, exp=exp)
    result.update({"crashes": len(errors), "batch_failures": batch_failures, "errors": errors[:10]})
    return result


def build_tiny_pipeline(folder: Path) -> Path:
    """A transformer + biobert_ner pipeline on a 2-layer, 32-wide random BERT (untrained), saved in `folder`."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    from .reliability_corpus import WORDS
    from .throughput_arms import build_untrained

    bert = folder / "tiny_bert"
    bert.mkdir(parents=True, exist_ok=True)
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789.,;:()-/'\"%+=[]")
    vocab = list(dict.fromkeys(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars + [f"##{c}" for c in chars] + WORDS))
    (bert / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf8")
    BertTokenizerFast(vocab_file=str(bert / "vocab.txt"), do_lower_case=True).save_pretrained(str(bert))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=37)
    BertModel(config).save_pretrained(str(bert))
    nlp = build_untrained(str(bert), ["women with breast cancer .", "the apc gene ."])
    nlp.to_disk(folder / "pipeline")
    return folder / "pipeline"


def summarise(per_input: Dict[str, Dict[str, Any]], arm: str) -> Dict[str, Any]:
    """One arm's counts over all inputs."""
    keys = ("records_in", "records_out", "duplicates", "lost", "unexpected", "corrupt_lines")
    row: Dict[str, Any] = {k: sum(r[k] for r in per_input.values()) for k in keys}
    if arm == "pipe":
        row["crashes"] = sum(r["crashes"] for r in per_input.values())
        row["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        return row
    runs = [run for r in per_input.values() for run in r["runs"]]
    reported = [r["reported_bad"] for r in per_input.values()]
    row.update({
        "reported_bad": None if None in reported else sum(reported),
        "expected_bad": sum(r["expected_bad"] for r in per_input.values()),
        "either": sum(r["either"] for r in per_input.values()),
        "crashes": sum(run["crash"] for run in runs),
        "kills": sum(run["killed"] for run in runs),
        "hangs": sum(run["timed_out"] for run in runs),
        "orphans": sum(run["orphans"] for run in runs),
        "peak_rss_mb": max((run["peak_rss_mb"] for run in runs), default=0.0),
        "exit_codes": [run["exit_code"] for run in runs],
    })
    return row


def markdown(results: Dict[str, Any]) -> str:
    """The table of the arms and the goal line."""
    lines = [
        "| arm | in | out | bad reported (expected) | duplicates | lost | unexpected | corrupt | crashes "
        "| kills | orphans | peak MB | exit codes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for arm, row in results["arms"].items():
        bad = "n/a" if arm == "pipe" else (
            f"{row['reported_bad']} ({row['expected_bad']}"
            + (f"-{row['expected_bad'] + row['either']}" if row["either"] else "") + ")")
        lines.append(
            f"| {arm} | {row['records_in']} | {row['records_out']} | {bad} | {row['duplicates']} | {row['lost']} "
            f"| {row['unexpected']} | {row['corrupt_lines']} | {row['crashes']}"
            + (f" ({row['hangs']} hung)" if row.get("hangs") else "") + f" | {row.get('kills', '-')} "
            f"| {row.get('orphans', '-')} | {row['peak_rss_mb']} | {row.get('exit_codes', '-')} |")
    goal = results["goal"]
    lines.append("")
    lines.append(f"Goal: 0 lost, 0 duplicated, 0 crashes: {'met' if goal['met'] else 'NOT met'} "
                 f"({goal['lost']} lost, {goal['duplicates']} duplicated, {goal['crashes']} crashes)")
    return "\n".join(lines) + "\n"


def run_reliability(
    model: Optional[str] = None, workdir: Optional[Path] = None, seed: int = 0, records: int = 200,
    n_random: int = 50, big_chars: int = 1_200_000, kills: int = 2, arms: Sequence[str] = ARMS,
    inputs: Sequence[str] = INPUTS, allowed_exit: Sequence[int] = (0, 3), batch_size: int = 8,
    timeout: float = 1800, stall: float = 300,
) -> Dict[str, Any]:
    """The whole benchmark (see the module's docstring); RETURNS its results."""
    unknown = sorted(set(arms) - set(ARMS)) + sorted(set(inputs) - set(INPUTS))
    if unknown:
        raise ValueError(f"unknown arms or inputs {unknown}: arms are {ARMS}, inputs {INPUTS}")
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="reliability-"))
    work.mkdir(parents=True, exist_ok=True)
    corpus: Corpus = build_corpus(work / "corpus", seed=seed, n_records=records, n_random=n_random,
                                  big_chars=big_chars, inputs=tuple(inputs))
    model = model or str(build_tiny_pipeline(work / "model"))
    rng = random.Random(seed)
    results: Dict[str, Any] = {
        "settings": {"model": model, "seed": seed, "records": records, "random": n_random,
                     "big_chars": big_chars, "kills": kills, "allowed_exit": sorted(allowed_exit),
                     "batch_size": batch_size, "timeout": timeout, "stall": stall, "workdir": str(work)},
        "expected": {name: {"good": len(e.good), "bad": e.bad, "either": e.either, "unreadable": e.unreadable}
                     for name, e in corpus.expected.items()},
        "arms": {}, "inputs": {},
    }
    for arm in arms:
        per_input: Dict[str, Dict[str, Any]] = {}
        if arm == "pipe":
            import spacy

            nlp = spacy.load(model)
            for name in corpus.inputs:
                per_input[name] = run_pipe(nlp, corpus.expected[name], batch_size)
        else:
            arm_dir = work / arm
            arm_dir.mkdir(exist_ok=True)
            for name, inp in corpus.inputs.items():
                per_input[name] = run_annotate(model, name, inp, corpus.expected[name], arm_dir,
                                               2 if arm == "annotate2" else 1, kills, rng,
                                               set(allowed_exit), batch_size, timeout, stall)
        results["inputs"][arm] = per_input
        results["arms"][arm] = summarise(per_input, arm)
    rows = results["arms"].values()
    goal = {k: sum(r[k] for r in rows) for k in ("lost", "duplicates", "crashes")}
    goal["met"] = not any(goal.values())
    results["goal"] = goal
    return results


def _ints(text: str) -> List[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def reliability_command(
    model: Optional[str] = typer.Option(None, "--model", help="pipeline folder (default: a tiny untrained one)"),
    workdir: Optional[Path] = typer.Option(None, "--workdir", help="keep the corpus and outputs here (default: a temp folder)"),
    seed: int = typer.Option(0, "--seed"),
    records: int = typer.Option(200, "--records", help="plain good records per input"),
    n_random: int = typer.Option(50, "--random", help="random-bytes lines, random-Unicode texts, random JSON values (each)"),
    big_chars: int = typer.Option(1_200_000, "--big-chars", help="characters of the long document (0: none)"),
    kills: int = typer.Option(2, "--kills", help="SIGKILLs per annotate input, at random output counts"),
    arms: str = typer.Option(",".join(ARMS), "--arms", help=f"comma-separated: {', '.join(ARMS)}"),
    inputs: str = typer.Option(",".join(INPUTS), "--inputs", help=f"comma-separated: {', '.join(INPUTS)}"),
    allowed_exit: str = typer.Option("0,3", "--allowed-exit", help="exit codes of a run that are not crashes"),
    batch_size: int = typer.Option(8, "--batch-size"),
    timeout: float = typer.Option(1800, "--timeout", help="seconds before one run is killed as hung (a crash)"),
    stall: float = typer.Option(300, "--stall", help="seconds without a new output record before a run is killed as hung (a crash)"),
    output: Optional[Path] = typer.Option(None, "--output", help="JSON results"),
) -> Dict[str, Any]:
    """Reliability of `spacy-biobert annotate` on a hostile corpus: nothing lost, nothing duplicated, no crash."""
    results = run_reliability(model, workdir, seed, records, n_random, big_chars, kills,
                              [a for a in arms.split(",") if a], [i for i in inputs.split(",") if i],
                              _ints(allowed_exit), batch_size, timeout, stall)
    sys.stdout.write(markdown(results))
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf8")
    return results


app = typer.Typer(add_completion=False)
app.command()(reliability_command)


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Run the command line on `argv` (default: sys.argv[1:]); RETURNS the results."""
    command = typer.main.get_command(app)
    return command.main(args=argv, prog_name="python -m spacy_biobert.benchmarks.reliability", standalone_mode=False)


if __name__ == "__main__":
    sys.exit(0 if main()["goal"]["met"] else 1)
