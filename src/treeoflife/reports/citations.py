"""BibTeX for the sources a dataset is built from, and a template for the dataset itself.

The dataset card cites what each build used: a source's entry appears when it gave at
least one sample; TreeOfLife-10M / BioCLIP always (the format and recipe are theirs).
The entries are the ones the sources ask for on their own pages.
"""

from __future__ import annotations

EOL = """@misc{eol,
  author = {{Encyclopedia of Life}},
  title = {Encyclopedia of Life},
  howpublished = {\\url{https://eol.org}},
  note = {Images and their licenses from the EOL media manifest}
}"""

INAT21 = """@inproceedings{van2021benchmarking,
  title = {Benchmarking Representation Learning for Natural World Image Collections},
  author = {Van Horn, Grant and Cole, Elijah and Beery, Sara and Wilber, Kimberly and Belongie, Serge and Mac Aodha, Oisin},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  pages = {12884--12893},
  year = {2021}
}"""

BIOSCAN = """@inproceedings{gharaee2023step,
  title = {A Step Towards Worldwide Biodiversity Assessment: The {BIOSCAN-1M} Insect Dataset},
  author = {Gharaee, Z. and Gong, Z. and Pellegrino, N. and Zarubiieva, I. and Haurum, J. B. and Lowe, S. C. and McKeown, J. T. A. and Ho, C. Y. and McLeod, J. and Wei, Y. C. and Agda, J. and Ratnasingham, S. and Steinke, D. and Chang, A. X. and Taylor, G. W. and Fieguth, P.},
  booktitle = {Advances in Neural Information Processing Systems},
  volume = {36},
  pages = {43593--43619},
  year = {2023}
}"""

TREEOFLIFE = """@misc{treeoflife_10m,
  author = {Samuel Stevens and Jiaman Wu and Matthew J Thompson and Elizabeth G Campolongo and Chan Hee Song and David Edward Carlyn and Li Dong and Wasila M Dahdul and Charles Stewart and Tanya Berger-Wolf and Wei-Lun Chao and Yu Su},
  title = {TreeOfLife-10M},
  year = {2023},
  url = {https://huggingface.co/datasets/imageomics/TreeOfLife-10M},
  doi = {10.57967/hf/1972},
  publisher = {Hugging Face}
}

@inproceedings{stevens2024bioclip,
  title = {{B}io{CLIP}: A Vision Foundation Model for the Tree of Life},
  author = {Samuel Stevens and Jiaman Wu and Matthew J Thompson and Elizabeth G Campolongo and Chan Hee Song and David Edward Carlyn and Li Dong and Wasila M Dahdul and Charles Stewart and Tanya Berger-Wolf and Wei-Lun Chao and Yu Su},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year = {2024},
  pages = {19412--19424}
}"""

# source (as the build names it) -> its entry; tol10m images are EOL images of TreeOfLife-10M
BY_SOURCE = {"eol": (EOL,), "inat21": (INAT21,), "bioscan": (BIOSCAN,), "tol10m": (EOL,)}

DATASET_TEMPLATE = """@misc{{your_dataset,
  author = {{<your names>}},
  title = {{<dataset name>: a TreeOfLife-10M-format image-text dataset of {samples} samples}},
  year = {{<year>}},
  url = {{<where it is published>}},
  note = {{Built with treeoflife {version}}}
}}"""


def entries(sources: list[str]) -> list[str]:
    """The BibTeX entries for a build whose samples came from ``sources``, each once."""
    out: list[str] = []
    for source in sorted(sources):
        for entry in BY_SOURCE.get(source, ()):
            if entry not in out:
                out.append(entry)
    return [*out, TREEOFLIFE]


def dataset_template(samples: int, version: str) -> str:
    return DATASET_TEMPLATE.format(samples=samples, version=version)
