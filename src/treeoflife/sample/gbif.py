"""A GBIF occurrence download (``gbif/occurrence/``), as its Darwin Core Archive unpacks:
``occurrence.txt`` and ``multimedia.txt`` with the columns, in the order, of a real
download (tab-separated, unquoted), and the images ``tol fetch-images --gbif`` would have
fetched, already in place (``images/<id[:2]>/<id>.jpg``), so ``tol build`` reads them
without a network. :func:`write` can instead leave the images to a test's image server
(``fetched=False``, ``base_url``), which serves :func:`photo` at each URL's path.

Occurrences are iNaturalist research-grade observations of a seeded choice of species;
one has two photos, one has a sound recording as well (not an image: passed over), and
one photo's row leaves ``license`` empty (the occurrence's license applies).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from treeoflife.sample import formats, photos
from treeoflife.sample.expected import ExpectedImage
from treeoflife.sample.labels import CommonNames, label_of, label_status
from treeoflife.sample.seeded import h
from treeoflife.sample.taxa import Taxon
from treeoflife.sources import gbif as source

FOLDER = "gbif/occurrence"
# iNaturalist's photo URLs, on a reserved domain (RFC 2606): the photo ids are made up, and
# `tol fetch-images --gbif` run on the sample must not fetch someone's real photo in place
# of the one the sample wrote
BASE_URL = "https://inaturalist-open-data.example.org"
INAT_DATASET = "50c9509d-22c7-4a22-a47d-8c48425ef4a7"  # iNaturalist Research-grade Observations
MEDIA_LICENSES = (
    "http://creativecommons.org/licenses/by-nc/4.0/",
    "http://creativecommons.org/licenses/by/4.0/",
    "http://creativecommons.org/publicdomain/zero/1.0/",
)
RECORD_LICENSES = {MEDIA_LICENSES[0]: "CC_BY_NC_4_0", MEDIA_LICENSES[1]: "CC_BY_4_0"}
RECORD_LICENSES[MEDIA_LICENSES[2]] = "CC0_1_0"
LICENSE_CODES = dict(zip(MEDIA_LICENSES, ("cc-by-nc-4.0", "cc-by-4.0", "cc0-1.0"), strict=True))


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# multimedia.txt of a GBIF DwC-A download (the GBIF Multimedia extension's terms)
MULTIMEDIA_COLUMNS = _names(
    "gbifID type format identifier references title description source audience created "
    "creator contributor publisher license rightsHolder"
)
# occurrence.txt of a GBIF DwC-A download (interpreted record), as GBIF writes it
OCCURRENCE_COLUMNS = _names("""
gbifID abstract accessRights accrualMethod accrualPeriodicity accrualPolicy alternative
audience available bibliographicCitation conformsTo contributor coverage created creator date
dateAccepted dateCopyrighted dateSubmitted description educationLevel extent format hasFormat
hasPart hasVersion identifier instructionalMethod isFormatOf isPartOf isReferencedBy
isReplacedBy isRequiredBy isVersionOf issued language license mediator medium modified
provenance publisher references relation replaces requires rights rightsHolder source spatial
subject tableOfContents temporal title type valid institutionID collectionID datasetID
institutionCode collectionCode datasetName ownerInstitutionCode basisOfRecord
informationWithheld dataGeneralizations dynamicProperties occurrenceID catalogNumber
recordNumber recordedBy recordedByID individualCount organismQuantity organismQuantityType sex
lifeStage reproductiveCondition behavior establishmentMeans degreeOfEstablishment pathway
georeferenceVerificationStatus occurrenceStatus preparations disposition
associatedOccurrences associatedReferences associatedSequences associatedTaxa
otherCatalogNumbers occurrenceRemarks organismID organismName organismScope
associatedOrganisms previousIdentifications organismRemarks materialSampleID eventID
parentEventID fieldNumber eventDate eventTime startDayOfYear endDayOfYear year month day
verbatimEventDate habitat samplingProtocol sampleSizeValue sampleSizeUnit samplingEffort
fieldNotes eventRemarks locationID higherGeographyID higherGeography continent waterBody
islandGroup island countryCode stateProvince county municipality locality verbatimLocality
verbatimElevation verticalDatum verbatimDepth minimumDistanceAboveSurfaceInMeters
maximumDistanceAboveSurfaceInMeters locationAccordingTo locationRemarks decimalLatitude
decimalLongitude coordinateUncertaintyInMeters coordinatePrecision pointRadiusSpatialFit
verbatimCoordinateSystem verbatimSRS footprintWKT footprintSRS footprintSpatialFit
georeferencedBy georeferencedDate georeferenceProtocol georeferenceSources
georeferenceRemarks geologicalContextID earliestEonOrLowestEonothem
latestEonOrHighestEonothem earliestEraOrLowestErathem latestEraOrHighestErathem
earliestPeriodOrLowestSystem latestPeriodOrHighestSystem earliestEpochOrLowestSeries
latestEpochOrHighestSeries earliestAgeOrLowestStage latestAgeOrHighestStage
lowestBiostratigraphicZone highestBiostratigraphicZone lithostratigraphicTerms group
formation member bed identificationID verbatimIdentification identificationQualifier
typeStatus identifiedBy identifiedByID dateIdentified identificationReferences
identificationVerificationStatus identificationRemarks taxonID scientificNameID
acceptedNameUsageID parentNameUsageID originalNameUsageID nameAccordingToID
namePublishedInID taxonConceptID scientificName acceptedNameUsage parentNameUsage
originalNameUsage nameAccordingTo namePublishedIn namePublishedInYear higherClassification
kingdom phylum class order family subfamily genus genericName subgenus infragenericEpithet
specificEpithet infraspecificEpithet cultivarEpithet taxonRank verbatimTaxonRank
vernacularName nomenclaturalCode taxonomicStatus nomenclaturalStatus taxonRemarks datasetKey
publishingCountry lastInterpreted elevation elevationAccuracy depth depthAccuracy
distanceAboveSurface distanceAboveSurfaceAccuracy issue mediaType hasCoordinate
hasGeospatialIssues taxonKey acceptedTaxonKey kingdomKey phylumKey classKey orderKey
familyKey genusKey subgenusKey speciesKey species acceptedScientificName
verbatimScientificName typifiedName protocol lastParsed lastCrawled repatriated
relativeOrganismQuantity level0Gid level0Name level1Gid level1Name level2Gid level2Name
level3Gid level3Name iucnRedListCategory
""")
OBSERVERS = ("Kim, Hyun-tae", "chipkrilowicz", "rook70031", "Sara Bárrios", "benmhogan")


def chosen(species: Sequence[Taxon]) -> list[Taxon]:
    """The species the download has: a seeded tenth of those iNaturalist knows."""
    return [t for t in species if t.has("inat") and not t.hybrid and h("gbif", t.key) % 10 == 0]


def photo(url: str) -> bytes:
    """The image at a media URL (by its path, so any server may serve it)."""
    seed = h("gbif-photo", urlsplit(url).path)
    return photos.photo_jpeg(seed, (256, 320, 300)[seed % 3], 240)


def write(
    dest: Path,
    species: Sequence[Taxon],
    names: CommonNames,
    *,
    base_url: str = BASE_URL,
    fetched: bool = True,
) -> list[ExpectedImage]:
    folder = dest / FOLDER
    occurrences, media, images = [], [], []
    for i, t in enumerate(chosen(species)):
        seed = h("gbif", t.key)
        gbif_id = str(891_000_000 + seed % 2_600_000_000)
        observation = 70_000 + seed % 100_000_000
        observer = OBSERVERS[seed % len(OBSERVERS)]
        license_url = MEDIA_LICENSES[(seed >> 8) % len(MEDIA_LICENSES)]
        occurrences.append(_occurrence(t, gbif_id, observation, observer, license_url, seed))
        for k in range(2 if i == 0 else 1):
            photo_id = 2_000_000 + (seed >> 16) % 200_000_000 + k
            url = f"{base_url}/photos/{photo_id}/original.jpg"
            row = {
                "gbifID": gbif_id,
                "type": "StillImage",
                "format": "image/jpeg",
                "identifier": url,
                "references": f"https://www.inaturalist.org/photos/{photo_id}",
                "created": f"20{10 + seed % 14}-0{1 + seed % 9}-1{seed % 10}T08:11:05-07:00",
                "creator": observer,
                "publisher": "iNaturalist",
                "license": "" if i == 2 else license_url,
                "rightsHolder": observer,
            }
            media.append(row)
            stem = source.image_stem(gbif_id, url)
            if fetched:
                formats.write_bytes(folder / f"{stem}.jpg", photo(url))
            lab = label_of(t, common=names.of(t))
            images.append(
                ExpectedImage(
                    "gbif",
                    None,
                    f"{FOLDER}/{stem}.jpg",
                    source.image_key(gbif_id, url),
                    lab,
                    label_status(lab),
                    holdout=t.has("unseen"),
                    license=LICENSE_CODES[license_url],  # the media row's, else the record's
                )
            )
        if i == 1:  # a sound recording of the same observation: not an image
            media.append(
                {
                    "gbifID": gbif_id,
                    "type": "Sound",
                    "format": "audio/mpeg",
                    "identifier": f"https://static.inaturalist.org/sounds/{seed % 900_000}.mp3",
                    "references": f"https://www.inaturalist.org/observations/{observation}",
                    "creator": observer,
                    "publisher": "iNaturalist",
                    "license": license_url,
                    "rightsHolder": observer,
                }
            )
    formats.write_table(
        folder / "occurrence.txt",
        OCCURRENCE_COLUMNS,
        ([row.get(c, "") for c in OCCURRENCE_COLUMNS] for row in occurrences),
        delimiter="\t",
    )
    formats.write_table(
        folder / "multimedia.txt",
        MULTIMEDIA_COLUMNS,
        ([row.get(c, "") for c in MULTIMEDIA_COLUMNS] for row in media),
        delimiter="\t",
    )
    return images


def _occurrence(
    t: Taxon, gbif_id: str, observation: int, observer: str, license_url: str, seed: int
) -> dict[str, str]:
    r = t.ranks
    taxon_key = str(2_000_000 + seed % 8_000_000)
    url = f"https://www.inaturalist.org/observations/{observation}"
    return {
        "gbifID": gbif_id,
        "license": RECORD_LICENSES[license_url],
        "modified": "2022-02-15T16:12:45Z",
        "publisher": "iNaturalist.org",
        "references": url,
        "rightsHolder": observer,
        "institutionCode": "iNaturalist",
        "collectionCode": "Observations",
        "datasetName": "iNaturalist research-grade observations",
        "basisOfRecord": "HUMAN_OBSERVATION",
        "occurrenceID": url,
        "catalogNumber": str(observation),
        "recordedBy": observer,
        "occurrenceStatus": "PRESENT",
        "eventDate": "2021-06-14T11:39:01",
        "year": "2021",
        "month": "6",
        "day": "14",
        "identifiedBy": observer,
        "taxonID": str(t.inat_taxon_id or ""),
        "scientificName": f"{t.binomial} {t.authority}".strip(),
        "kingdom": r["kingdom"],
        "phylum": r["phylum"],
        "class": r["class"],
        "order": r["order"],
        "family": r["family"],
        "genus": r["genus"],
        "genericName": r["genus"],
        "specificEpithet": r["species"],
        "taxonRank": "SPECIES",
        "taxonomicStatus": "ACCEPTED",
        "datasetKey": INAT_DATASET,
        "publishingCountry": "US",
        "lastInterpreted": "2022-02-25T20:10:56.432Z",
        "mediaType": "StillImage",
        "hasCoordinate": "false",
        "hasGeospatialIssues": "false",
        "taxonKey": taxon_key,
        "acceptedTaxonKey": taxon_key,
        "speciesKey": taxon_key,
        "species": t.binomial,
        "acceptedScientificName": f"{t.binomial} {t.authority}".strip(),
        "verbatimScientificName": t.binomial,
        "protocol": "DWC_ARCHIVE",
        "repatriated": "false",
    }
