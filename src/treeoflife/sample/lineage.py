"""Intermediate ranks the reference hierarchies have between (and around) the seven ranks.

The Dynamic Hierarchy and ITIS both put extra ranks in a lineage (subphylum, superorder,
subfamily, tribe, ...); a loader has to walk them and pick out the seven it needs.
"""

from __future__ import annotations

SUBPHYLUM = {
    ("Chordata", ""): "Vertebrata",
    ("Arthropoda", "Insecta"): "Hexapoda",
    ("Arthropoda", "Malacostraca"): "Crustacea",
    ("Arthropoda", "Arachnida"): "Chelicerata",
    ("Basidiomycota", ""): "Agaricomycotina",
    ("Ascomycota", "Saccharomycetes"): "Saccharomycotina",
    ("Ascomycota", ""): "Pezizomycotina",
}

SUPERORDER = {
    "Primates": "Euarchontoglires",
    "Rodentia": "Euarchontoglires",
    "Lagomorpha": "Euarchontoglires",
    "Carnivora": "Laurasiatheria",
    "Artiodactyla": "Laurasiatheria",
    "Chiroptera": "Laurasiatheria",
    "Eulipotyphla": "Laurasiatheria",
    "Lepidoptera": "Holometabola",
    "Hymenoptera": "Holometabola",
    "Coleoptera": "Holometabola",
    "Diptera": "Holometabola",
    "Rosales": "Rosanae",
    "Fagales": "Rosanae",
    "Malpighiales": "Rosanae",
    "Fabales": "Rosanae",
    "Sapindales": "Rosanae",
    "Lamiales": "Asteranae",
    "Asterales": "Asteranae",
    "Apiales": "Asteranae",
    "Ericales": "Asteranae",
    "Caryophyllales": "Caryophyllanae",
    "Asparagales": "Lilianae",
    "Liliales": "Lilianae",
    "Poales": "Lilianae",
}

# (kingdom, genus) -> (subfamily, tribe); "" where the rank is not used
SUBFAMILY_TRIBE = {
    ("Animalia", "Pieris"): ("Pierinae", "Pierini"),
    ("Animalia", "Bombus"): ("Apinae", "Bombini"),
    ("Animalia", "Apis"): ("Apinae", "Apini"),
    ("Animalia", "Anas"): ("Anatinae", "Anatini"),
    ("Animalia", "Branta"): ("Anserinae", "Anserini"),
    ("Animalia", "Cygnus"): ("Anserinae", "Cygnini"),
    ("Animalia", "Panthera"): ("Pantherinae", ""),
    ("Animalia", "Puma"): ("Felinae", ""),
    ("Animalia", "Danaus"): ("Danainae", "Danaini"),
    ("Animalia", "Vanessa"): ("Nymphalinae", "Nymphalini"),
    ("Animalia", "Drosophila"): ("Drosophilinae", "Drosophilini"),
    ("Animalia", "Chironomus"): ("Chironominae", "Chironomini"),
    ("Animalia", "Megaselia"): ("Metopininae", ""),
    ("Animalia", "Agathis"): ("Agathidinae", "Agathidini"),
    ("Animalia", "Coccinella"): ("Coccinellinae", "Coccinellini"),
    ("Animalia", "Harmonia"): ("Coccinellinae", "Coccinellini"),
    ("Animalia", "Musca"): ("Muscinae", "Muscini"),
    ("Animalia", "Aedes"): ("Culicinae", "Aedini"),
    ("Animalia", "Alces"): ("Capreolinae", ""),
    ("Animalia", "Odocoileus"): ("Capreolinae", ""),
    ("Animalia", "Cervus"): ("Cervinae", ""),
    ("Plantae", "Morus"): ("", "Moreae"),
    ("Plantae", "Ficus"): ("", "Ficeae"),
    ("Plantae", "Mentha"): ("Nepetoideae", "Mentheae"),
    ("Plantae", "Prunella"): ("Nepetoideae", "Mentheae"),
    ("Plantae", "Quercus"): ("Quercoideae", ""),
    ("Plantae", "Trifolium"): ("Papilionoideae", "Trifolieae"),
    ("Plantae", "Aotus"): ("Papilionoideae", "Mirbelieae"),
    ("Plantae", "Taraxacum"): ("Cichorioideae", "Cichorieae"),
    ("Plantae", "Helianthus"): ("Asteroideae", "Heliantheae"),
    ("Plantae", "Bellis"): ("Asteroideae", "Astereae"),
}


def subphylum(phylum: str, klass: str) -> str:
    return SUBPHYLUM.get((phylum, klass)) or SUBPHYLUM.get((phylum, ""), "")


def subfamily_tribe(kingdom: str, genus: str) -> tuple[str, str]:
    return SUBFAMILY_TRIBE.get((kingdom, genus), ("", ""))


# The Dynamic Hierarchy's names above phylum (it calls animals Metazoa and plants Viridiplantae).
DH_TOP = {
    "Animalia": [("Opisthokonta", "clade"), ("Metazoa", "kingdom")],
    "Fungi": [("Opisthokonta", "clade"), ("Fungi", "kingdom")],
    "Plantae": [("Archaeplastida", "clade"), ("Viridiplantae", "kingdom")],
}
DH_ROOT = [("Life", ""), ("Cellular Organisms", ""), ("Eukaryota", "domain")]

# ITIS's ranks above phylum/division, and between phylum and class.
ITIS_TOP = {
    "Animalia": [("Animalia", "Kingdom"), ("Bilateria", "Subkingdom")],
    "Plantae": [
        ("Plantae", "Kingdom"),
        ("Viridiplantae", "Subkingdom"),
        ("Streptophyta", "Infrakingdom"),
        ("Embryophyta", "Superdivision"),
    ],
    "Fungi": [("Fungi", "Kingdom"), ("Dikarya", "Subkingdom")],
}
ITIS_INFRAKINGDOM = {
    "Chordata": "Deuterostomia",
    "Echinodermata": "Deuterostomia",
    "Arthropoda": "Protostomia",
    "Mollusca": "Protostomia",
}
