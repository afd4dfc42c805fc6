"""Annotate a corpus on Ray Data (``spacy-biobert annotate-ray``).

The same inputs, output records, resume and bad-record handling as
``spacy-biobert annotate`` (see `spacy_biobert.apps.annotate`), with the pipeline
run by a pool of Ray actors instead of one process:

- The driver (the process that runs this) reads the input with the readers of
  `spacy_biobert.apps.annotate`, skips the ids already in the output and reports
  bad records, exactly as `annotate` does, in a thread. It puts the
  documents, in batches of `batch_size`, on a bounded `ray.util.queue.Queue`
  (at most `2 * num_workers` batches wait there; the thread blocks when it is
  full): the corpus is never held in memory, and the input needs to exist
  only where the driver runs.
- A Ray Data datasource of one read task takes the batches off the queue.
  Each batch is one row (columns 'ids' and 'texts', lists) in a block of its
  own, so that Ray Data neither merges nor splits batches (the block size
  target is set to 1 byte for the run; by default a read task's rows are
  merged into blocks of up to 128 MiB, which would hold back a whole small
  corpus and hand it to one worker).
- `map_batches` sends the batches, one per call, to a pool of `num_workers`
  `Annotator` actors. Each actor loads the pipeline once (in its constructor)
  and runs `nlp.pipe` over each batch, returning the ids, the JSON records
  and the word counts.
- The driver writes the records to the output JSONL as the batches come back,
  flushed per batch. Batches can come back in any order (input order within a
  batch); `preserve_order=True` keeps the input order, at some cost in
  throughput. Each record carries its id, so the order does not matter for
  resuming: a rerun skips every id already written.

Local (`address=None`): starts a Ray instance on this machine (`num_cpus`
cores, no dashboard) and stops it at the end. A cluster: run this on one of
its nodes (or as a Ray job: `ray job submit -- spacy-biobert annotate-ray
...`) with `address="auto"` or the head's `"<host>:6379"`. Ray Client
addresses (`ray://...`) are refused: Ray Data does not run over Ray Client.
Every node needs spacy-biobert installed and MODEL loadable with
`spacy.load` (a path that exists on every node, or an installed package
name). If Ray is already initialised in this process, that connection is
used and left open.
"""

import inspect
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ..errors import Errors
from .annotate import (
    AnnotateStats,
    RecordWriter,
    ReportT,
    count_words,
    detect_format,
    documents_to_annotate,
)
from .annotate_output import AnnotateOutput, is_stdout, prepare_output

BatchT = Tuple[List[str], List[str]]  # a batch of documents: (ids, texts)


def require_ray() -> Any:
    """The `ray` module with Ray Data, or an ImportError that says how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise ImportError(Errors.E2620.format(error=e)) from e
    return ray


@dataclass
class RayAnnotateStats(AnnotateStats):
    """Counts of one `annotate_ray` run; `seconds` includes starting the workers."""

    workers: int = 0

    def to_dict(self) -> Dict[str, Any]:
        counts = super().to_dict()
        counts["docs_per_second"] = (
            round(self.annotated / self.seconds, 1) if self.seconds else None
        )
        counts["workers"] = self.workers
        return counts


class Annotator:
    """A Ray Data actor: loads the pipeline once, annotates batches of documents.

    Called with a pyarrow table whose rows are batches of documents (list
    columns 'ids' and 'texts'); returns a table with, per row, the lists
    'ids', 'records' (the JSON lines that `annotate` writes) and 'words'.
    """

    def __init__(
        self, model: str, *, include_text: bool = False, batch_size: int = 64,
        use_gpu: bool = False,
    ) -> None:
        import spacy

        if use_gpu:
            # Ray sets CUDA_VISIBLE_DEVICES to this actor's GPU(s)
            spacy.require_gpu(0)
        self.nlp = spacy.load(model)
        self.writer = RecordWriter.for_pipeline(self.nlp, include_text=include_text)
        self.batch_size = batch_size

    def __call__(self, table: Any) -> Any:
        import pyarrow as pa

        out: Dict[str, List[Any]] = {"ids": [], "records": [], "words": []}
        for ids, texts in zip(table.column("ids").to_pylist(), table.column("texts").to_pylist()):
            records: List[str] = []
            words: List[int] = []
            for doc, doc_id in self.nlp.pipe(
                zip(texts, ids), as_tuples=True, batch_size=self.batch_size
            ):
                records.append(self.writer.json_line(doc_id, doc))
                words.append(count_words(doc))
            out["ids"].append(ids)
            out["records"].append(records)
            out["words"].append(words)
        return pa.table({
            "ids": pa.array(out["ids"], pa.list_(pa.string())),
            "records": pa.array(out["records"], pa.list_(pa.string())),
            "words": pa.array(out["words"], pa.list_(pa.int64())),
        })


def _batches(todo: Iterator[Tuple[str, str]], size: int) -> Iterator[BatchT]:
    ids: List[str] = []
    texts: List[str] = []
    for text, doc_id in todo:
        ids.append(doc_id)
        texts.append(text)
        if len(ids) >= size:
            yield ids, texts
            ids, texts = [], []
    if ids:
        yield ids, texts


def _queue_datasource(queue: Any) -> Any:
    """A Ray Data datasource of one read task that yields the batches put on
    `queue`, each as a block of one row. None on the queue ends it."""
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask

    def read() -> Iterator[Any]:
        import pyarrow as pa

        while True:
            batch = queue.get()
            if batch is None:
                return
            ids, texts = batch
            yield pa.table({
                "ids": pa.array([ids], pa.list_(pa.string())),
                "texts": pa.array([texts], pa.list_(pa.string())),
            })

    class QueueDatasource(Datasource):
        def estimate_inmemory_data_size(self) -> Optional[int]:
            return None

        def get_read_tasks(self, parallelism: int, per_task_row_limit: Optional[int] = None,
                           data_context: Any = None) -> List[Any]:
            # unknown size; `schema` is a field before Ray 2.4x, gone since
            fields = inspect.signature(BlockMetadata).parameters
            meta = BlockMetadata(**{
                name: None for name in
                ("num_rows", "size_bytes", "schema", "input_files", "exec_stats")
                if name in fields
            })
            return [ReadTask(read, meta)]

        def get_name(self) -> str:
            return "AnnotateInput"

    return QueueDatasource()


class _Feeder(threading.Thread):
    """Puts the batches on the queue (then None): a thread of the driver, beside the writer."""

    def __init__(self, batches: Iterator[BatchT], queue: Any) -> None:
        super().__init__(name="annotate-ray-feeder", daemon=True)
        self.batches = batches
        self.queue = queue
        self.stop = threading.Event()
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            for batch in self.batches:
                if not self._put(batch):
                    return
        except BaseException as e:  # reported by annotate_ray once the run ends
            self.error = e
        self._put(None)

    def _put(self, item: Optional[BatchT]) -> bool:
        from ray.util.queue import Full

        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.5)
                return True
            except Full:
                continue
        return False


def annotate_ray(
    model: str,
    input_path: Path,
    output: Path,
    *,
    input_format: Optional[str] = None,
    address: Optional[str] = None,
    num_workers: int = 2,
    batch_size: int = 64,
    num_cpus_per_worker: float = 1,
    num_gpus_per_worker: float = 0,
    num_cpus: Optional[int] = None,
    preserve_order: bool = False,
    id_field: str = "id",
    text_field: str = "text",
    include_text: bool = False,
    overwrite: bool = False,
    report: Optional[ReportT] = None,
    show_progress: bool = True,
    ray_init_kwargs: Optional[Dict[str, Any]] = None,
) -> RayAnnotateStats:
    """Annotate every document of `input_path` on Ray Data, appending JSONL records to `output`.

    model (str): the pipeline (`spacy.load` name or path), loaded once by each worker.
    input_path (Path): a file or a folder of files, as for `annotate`.
    output (Path): the JSONL file; ids already in it are skipped (resume).
        Locked for the run, never the input, not '-' (E2645): see
        `spacy_biobert.apps.annotate_output`.
    input_format (Optional[str]): 'lines', 'text', 'jsonl', 'pubmed'; None to detect.
    address (Optional[str]): None for a local Ray instance; 'auto' or
        '<head>:6379' for an existing cluster, this process running on one of
        its nodes (Ray Client 'ray://' addresses: E142).
    num_workers (int): annotating actors (each loads the pipeline once).
    batch_size (int): documents per batch sent to an actor (one `nlp.pipe` batch).
    num_cpus_per_worker (float): CPUs reserved per actor.
    num_gpus_per_worker (float): GPUs per actor (> 0: the pipeline runs on GPU).
    num_cpus (Optional[int]): CPUs of the local instance (None: all); not
        used with `address`.
    preserve_order (bool): write the records in input order.
    id_field (str): the id field of JSONL input.
    text_field (str): the text field of JSONL input.
    include_text (bool): write the document text into each record.
    overwrite (bool): start the output afresh instead of resuming.
    report (Optional[ReportT]): called with the message of each bad record,
        from a thread of the driver (default: written to stderr).
    show_progress (bool): show Ray Data's progress bars.
    ray_init_kwargs (Optional[Dict[str, Any]]): more arguments for `ray.init`
        (e.g. runtime_env); used only if Ray is not initialised yet.
    RETURNS (RayAnnotateStats): the counts of the run.
    """
    ray = require_ray()
    _check_arguments(address, num_workers, batch_size, output)
    stats = RayAnnotateStats(workers=num_workers)
    fmt = detect_format(input_path, input_format)
    sink = prepare_output(output, stats, overwrite=overwrite, input_path=input_path)
    try:  # the output stays locked until the end of the run
        batches = _plan(
            input_path, sink, stats, fmt=fmt, batch_size=batch_size,
            id_field=id_field, text_field=text_field, report=report,
        )
        if batches is None:  # nothing (left) to annotate: start no workers
            return stats
        _run(
            ray, batches, sink, stats, model=model, address=address, num_workers=num_workers,
            batch_size=batch_size, num_cpus_per_worker=num_cpus_per_worker,
            num_gpus_per_worker=num_gpus_per_worker, num_cpus=num_cpus,
            preserve_order=preserve_order, include_text=include_text,
            show_progress=show_progress, ray_init_kwargs=ray_init_kwargs,
        )
    finally:
        sink.close()
    return stats


def _run(
    ray: Any, batches: Iterator[BatchT], sink: AnnotateOutput, stats: RayAnnotateStats, *,
    model: str, address: Optional[str], num_workers: int, batch_size: int,
    num_cpus_per_worker: float, num_gpus_per_worker: float, num_cpus: Optional[int],
    preserve_order: bool, include_text: bool, show_progress: bool,
    ray_init_kwargs: Optional[Dict[str, Any]],
) -> None:
    """Start (or join) Ray, annotate `batches` on it and write the records to `sink`."""
    start = time.perf_counter()
    started_ray = _connect(ray, address, num_cpus, ray_init_kwargs)
    from ray.util.queue import Queue

    queue = Queue(maxsize=2 * num_workers, actor_options={"num_cpus": 0})
    feeder = _Feeder(batches, queue)
    context, saved = _set_data_context(ray, preserve_order, show_progress)
    try:
        ds = _annotated_dataset(
            ray, queue, model, num_workers=num_workers, batch_size=batch_size,
            num_cpus_per_worker=num_cpus_per_worker, num_gpus_per_worker=num_gpus_per_worker,
            include_text=include_text,
        )
        feeder.start()
        _write_records(ds, sink, stats)
    finally:
        feeder.stop.set()
        if feeder.is_alive():
            feeder.join()
        _restore_data_context(context, saved)
        queue.shutdown(force=True)
        if started_ray:
            ray.shutdown()
    stats.seconds = time.perf_counter() - start
    if feeder.error is not None:
        raise feeder.error


def _check_arguments(address: Optional[str], num_workers: int, batch_size: int, output: Path) -> None:
    """Refuse Ray Client addresses, fewer than one worker or document per
    batch, and stdout as output (Ray prints its workers' output there)."""
    if is_stdout(output):
        raise ValueError(Errors.E2645)
    if address is not None and address.startswith("ray://"):
        raise ValueError(Errors.E2622.format(address=address))
    if num_workers < 1 or batch_size < 1:
        raise ValueError(Errors.E2621.format(num_workers=num_workers, batch_size=batch_size))


def _plan(
    input_path: Path, sink: AnnotateOutput, stats: RayAnnotateStats, *,
    fmt: str, batch_size: int, id_field: str, text_field: str,
    report: Optional[ReportT],
) -> Optional[Iterator[BatchT]]:
    """The batches left to annotate, read lazily (the ids already in `sink`
    skipped; bad records counted in `stats` and reported); None when there is
    none, found by reading up to the first batch."""
    done = sink.done

    def _report(message: str) -> None:
        stats.add_bad(message)
        if report is not None:
            report(message)
        else:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()

    batches = _batches(
        documents_to_annotate(
            input_path, fmt, done, _report, id_field=id_field, text_field=text_field
        ),
        batch_size,
    )
    first = next(batches, None)
    if first is None:
        return None

    def all_batches() -> Iterator[BatchT]:
        yield first
        yield from batches

    return all_batches()


def _connect(
    ray: Any, address: Optional[str], num_cpus: Optional[int], ray_init_kwargs: Optional[Dict[str, Any]]
) -> bool:
    """Start a local Ray instance (`address` None) or connect to a cluster,
    unless Ray is initialised already; RETURNS whether this call started it."""
    started_ray = not ray.is_initialized()
    if started_ray:
        if address is None:
            ray.init(num_cpus=num_cpus, include_dashboard=False, **(ray_init_kwargs or {}))
        else:
            ray.init(address=address, **(ray_init_kwargs or {}))
    return started_ray


def _set_data_context(ray: Any, preserve_order: bool, show_progress: bool) -> Tuple[Any, Tuple[Any, ...]]:
    """Set Ray Data's context for the run; RETURNS it and its previous
    settings, for `_restore_data_context`."""
    context = ray.data.DataContext.get_current()
    saved = (
        context.execution_options.preserve_order, context.enable_progress_bars,
        context.target_max_block_size,
    )
    context.execution_options.preserve_order = preserve_order
    context.enable_progress_bars = show_progress
    context.target_max_block_size = 1  # a block per batch: see the module docstring
    return context, saved


def _restore_data_context(context: Any, saved: Tuple[Any, ...]) -> None:
    (context.execution_options.preserve_order, context.enable_progress_bars,
     context.target_max_block_size) = saved


def _annotated_dataset(
    ray: Any, queue: Any, model: str, *, num_workers: int, batch_size: int,
    num_cpus_per_worker: float, num_gpus_per_worker: float, include_text: bool,
) -> Any:
    """The lazy Ray Data dataset: the batches off `queue`, annotated by a pool
    of `num_workers` `Annotator` actors."""
    # The read task takes no CPU, so that it never waits for the actors' cores,
    # and is not retried: a retry (after its worker died) would go on with the
    # batches still on the queue, and the ones its first attempt held would be
    # missing from the output without an error. max_retries has no named
    # parameter in Ray 2.60 (nor num_cpus before 2.5x), hence ray_remote_args,
    # deprecated since.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*ray_remote_args.* is deprecated")
        ds = ray.data.read_datasource(
            _queue_datasource(queue), ray_remote_args={"num_cpus": 0, "max_retries": 0},
            override_num_blocks=1,
        )
    return ds.map_batches(
        Annotator,
        batch_format="pyarrow",
        batch_size=1,  # one row: one batch of documents
        compute=ray.data.ActorPoolStrategy(size=num_workers),
        num_cpus=num_cpus_per_worker,
        num_gpus=num_gpus_per_worker,
        fn_constructor_kwargs={
            "model": str(model), "include_text": include_text,
            "batch_size": batch_size, "use_gpu": num_gpus_per_worker > 0,
        },
    )


def _write_records(ds: Any, sink: AnnotateOutput, stats: RayAnnotateStats) -> None:
    """Append the records to `sink` as the batches come back (flushed per
    batch, synced at the end), each id once; count them in `stats`."""
    written = set()
    with sink.append() as out:
        for block in ds.iter_batches(batch_format="pyarrow", batch_size=None):
            for ids, records, words in zip(
                block.column("ids").to_pylist(), block.column("records").to_pylist(),
                block.column("words").to_pylist(),
            ):
                for doc_id, record, n_words in zip(ids, records, words):
                    if doc_id in written:  # a batch run twice (a retry): once is enough
                        continue
                    written.add(doc_id)
                    out.write(record + "\n")
                    stats.annotated += 1
                    stats.words += n_words
                out.flush()
