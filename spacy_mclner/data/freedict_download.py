"""FreeDict dictionaries for the code-switcher, from the system or from Debian, into one folder.

codeswitch reads Debian's English-X FreeDict dictionaries (dictd format). A machine
may have them installed (`apt-get install dict-freedict-eng-deu`, in /usr/share/dictd),
or not and no root to install them. `provide_freedict` puts each target language's two
files into a project folder: copied from the system when it has them, else taken from
the Debian package itself, downloaded from deb.debian.org and checked against the size
and SHA-256 of Debian's package index (bookworm), unpacked in Python: no apt, dpkg or
root needed. Where neither works, the error says what to do.
"""
import hashlib
import io
import lzma
import shutil
import tarfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List, Tuple

from ..util import written_whole
from .dictionaries import FREEDICT_CODES, FREEDICT_DIR, freedict_paths

DEBIAN_MIRROR = "http://deb.debian.org/debian/"
# Debian bookworm's English-X FreeDict packages: (pool path, size, SHA-256), from its Packages index.
FREEDICT_DEBS = {
    "afr": ("pool/main/f/freedict/dict-freedict-eng-afr_2022.04.21-1_all.deb", 146316, "d8ce4dcca0caaf7c399b1f4535635db2d7ea39cd73be75ae719c75737f69f3e5"),
    "ara": ("pool/main/f/freedict/dict-freedict-eng-ara_2022.04.21-1_all.deb", 1632568, "a4528bf4f3a340f71d229526cd7e1853f1bc0477da4c0b7944bdb9595c7f23d3"),
    "bul": ("pool/main/f/freedict-wikdict/dict-freedict-eng-bul_2022.12.07-2_all.deb", 1791676, "91e23fe0ec1dfff19b27d302d7fba32fcc93f95e9b8965939d6f4c966e478389"),
    "ces": ("pool/main/f/freedict/dict-freedict-eng-ces_2022.04.21-1_all.deb", 1948372, "282e38a11aa8317f61a9f449f028357261b06aabdc35934c1fc04a954d4e5add"),
    "cym": ("pool/main/f/freedict/dict-freedict-eng-cym_2022.04.21-1_all.deb", 300956, "bb954743b460b6033233b0d1b15cd51d1cbce913580076d13ddd9127d724d05a"),
    "dan": ("pool/main/f/freedict/dict-freedict-eng-dan_2022.04.21-1_all.deb", 32680, "818cf93ba187079672066cf9aa82a2146e37e989a41e41f96e13723a6fb686c2"),
    "deu": ("pool/main/f/freedict/dict-freedict-eng-deu_2022.04.21-1_all.deb", 19171420, "e85da1519a4d5efdbd7a5a169e828b97920f91e899f45d56fd5b2266a05b5906"),
    "ell": ("pool/main/f/freedict/dict-freedict-eng-ell_2022.04.21-1_all.deb", 597404, "b6a7d3154f93fc26554d2e3fd2529b98bfc67d17020a4ff8b2fe804373c83ecc"),
    "fin": ("pool/main/f/freedict-wikdict/dict-freedict-eng-fin_2022.12.07-2_all.deb", 3626152, "037351c22b6f803358517d0293bab9619f6bef964e22cab68f63a174b5d22ebe"),
    "fra": ("pool/main/f/freedict/dict-freedict-eng-fra_2022.04.21-1_all.deb", 217484, "b8db6774b640ae8a372bee119b4304d88e6fd471a283d1326d7ec0abcc8b930e"),
    "gle": ("pool/main/f/freedict/dict-freedict-eng-gle_2022.04.21-1_all.deb", 49432, "e91944fce8a445a4454dce0cf93839d4ed61f1ce362074152fbcd3b67ffdca50"),
    "hin": ("pool/main/f/freedict/dict-freedict-eng-hin_2022.04.21-1_all.deb", 1420520, "15b21e02e94b1a3a31a0b7a298687bee518797586a70745655cf5cefd3721c67"),
    "hrv": ("pool/main/f/freedict/dict-freedict-eng-hrv_2022.04.21-1_all.deb", 1908612, "f63ebe17becbcae416fd3ac0d8d949f03e1e876bc5ca51aeb9a1c601e7664897"),
    "hun": ("pool/main/f/freedict/dict-freedict-eng-hun_2022.04.21-1_all.deb", 3643568, "64eec7b44df8c8f2ce4c787a3070f90c56907b384e72618a9f7bdb9cd988bcb8"),
    "ind": ("pool/main/f/freedict-wikdict/dict-freedict-eng-ind_2022.12.07-2_all.deb", 504256, "d2929618bdbdfecf7f71bc46e038fe873d3e6a50ec29cecc1f60ef1c4e940070"),
    "ita": ("pool/main/f/freedict/dict-freedict-eng-ita_2022.04.21-1_all.deb", 108192, "aef18ac10bd7582f99b819f634edad0dc0060e59a06f3f041a40203c53e9bb22"),
    "jpn": ("pool/main/f/freedict-wikdict/dict-freedict-eng-jpn_2022.12.07-2_all.deb", 1742968, "3d06a55a8fa16a529b9f95b8d2fe3f7163700cea03aa7ee5b53c40dcdd6c6868"),
    "lat": ("pool/main/f/freedict/dict-freedict-eng-lat_2022.04.21-1_all.deb", 80812, "659c9f87b5f6198ef575e805c09100add95038045987e25af2a1442346983f5d"),
    "lit": ("pool/main/f/freedict/dict-freedict-eng-lit_2022.04.21-1_all.deb", 276216, "c4f07e6f56e9e8ba2dfdbf746098c0644edec3497ba9d78962c020e7371f95e0"),
    "nld": ("pool/main/f/freedict/dict-freedict-eng-nld_2022.04.21-1_all.deb", 246324, "82bc479217e728e95d61aedc4dfb8472b4a9db23412e9754b8f24a9a2d50e943"),
    "nor": ("pool/main/f/freedict-wikdict/dict-freedict-eng-nor_2022.12.07-2_all.deb", 559252, "cf0c56bd607b30ec0481fcc002b062b9f220e6870a0d6abcc2796bebb68b2097"),
    "pol": ("pool/main/f/freedict/dict-freedict-eng-pol_2022.04.21-1_all.deb", 597344, "edfc15cb7d7decb09d4af7e502d7bf9df170523506fd7d5918d02d8f8a03c816"),
    "por": ("pool/main/f/freedict/dict-freedict-eng-por_2022.04.21-1_all.deb", 411016, "ef942ae345dda5f504b256a9df131993350737f70a1e55c58f49e4ae3196ec3f"),
    "rus": ("pool/main/f/freedict/dict-freedict-eng-rus_2022.04.21-1_all.deb", 59552, "0683c8eda017ff1082815c3bd918a7c9f1516b18621fcdf0ef46a9a1b9d61ea3"),
    "spa": ("pool/main/f/freedict/dict-freedict-eng-spa_2022.04.21-1_all.deb", 136204, "1b6a624048eddad805dcf0473a74e53420fbe391e7f2638090bddf625e9ad2b6"),
    "srp": ("pool/main/f/freedict/dict-freedict-eng-srp_2022.04.21-1_all.deb", 34548, "1c9896e4dbdd0146af09cb7d58903783f007e2d26519d7f22e47ce0db402adb6"),
    "swe": ("pool/main/f/freedict/dict-freedict-eng-swe_2022.04.21-1_all.deb", 128160, "55feb9aff9abcc0be412dd11d9d46bc25eec4a80900a7701e57e6ad10331140e"),
    "swh": ("pool/main/f/freedict/dict-freedict-eng-swh_2022.04.21-1_all.deb", 48996, "ad003a94afad9b5b70951d287f7a2d28f8c27b9d9108d999f682eca85d26f0d7"),
    "tur": ("pool/main/f/freedict/dict-freedict-eng-tur_2022.04.21-1_all.deb", 2205568, "dd18d6682827301cb7131fda95728dd4c5ec3d73da6dab1f98619310608fbd99"),
}



def provide_freedict(langs: List[str], folder: Path, system_dir: Path = FREEDICT_DIR, mirror: str = DEBIAN_MIRROR) -> Dict[str, str]:
    """Put the FreeDict files of each language that Debian has one for into `folder`.

    Returns where each came from: "kept" (already there), "system" (copied) or the URL.
    Languages without an English-X FreeDict are left out: the code-switcher uses
    CLDR names (and any word-pair files given) for them.
    """
    sources: Dict[str, str] = {}
    for lang in langs:
        if lang not in FREEDICT_CODES:
            continue
        index, data, package = freedict_paths(lang, folder)
        if index.is_file() and data.is_file():
            sources[lang] = "kept"
            continue
        system_index, system_data, _ = freedict_paths(lang, system_dir)
        if system_index.is_file() and system_data.is_file():
            for source, target in ((system_index, index), (system_data, data)):
                with written_whole(target) as partial:
                    shutil.copyfile(source, partial)
            sources[lang] = "system"
            continue
        sources[lang] = _download(lang, package, index, data, mirror, system_dir)
    return sources


def _download(lang: str, package: str, index: Path, data: Path, mirror: str, system_dir: Path) -> str:
    pool_path, size, digest = FREEDICT_DEBS[FREEDICT_CODES[lang]]
    url = mirror + pool_path
    help_text = (
        f"install the Debian package ({package}, into {system_dir}), or put "
        f"{index.name} and {data.name} into {index.parent}, or make the views without "
        "FreeDict for it (`codeswitch --freedict-langs` without it, `--vars.freedict_langs` in the workflow): "
        f"{lang} then gets CLDR names only, far fewer switched words"
    )
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            content = response.read()
    except (urllib.error.URLError, OSError) as error:
        raise RuntimeError(f"No FreeDict English-{lang} dictionary: {system_dir} lacks it and {url} could not be fetched ({error}). To go on, {help_text}") from None
    if len(content) != size or hashlib.sha256(content).hexdigest() != digest:
        raise RuntimeError(
            f"{url} is not the package Debian's index describes ({len(content)} bytes, expected {size} "
            f"with SHA-256 {digest}). To go on, {help_text}"
        )
    members = deb_data_files(content, {f"usr/share/dictd/{index.name}", f"usr/share/dictd/{data.name}"})
    for target in (index, data):
        with written_whole(target) as partial:
            partial.write_bytes(members[f"usr/share/dictd/{target.name}"])
    return url


def deb_data_files(deb: bytes, wanted: set) -> Dict[str, bytes]:
    """The files `wanted` (paths without a leading ./) of a Debian package's data archive.

    A .deb is an `ar` archive whose `data.tar.*` member holds the installed files.
    """
    for name, content in _ar_members(deb):
        if name.startswith("data.tar"):
            opened = io.BytesIO(lzma.decompress(content) if name.endswith(".xz") else content)
            with tarfile.open(fileobj=opened) as archive:
                found = {}
                for member in archive.getmembers():
                    path = member.name.removeprefix("./")
                    if path in wanted and member.isfile():
                        extracted = archive.extractfile(member)
                        assert extracted is not None
                        found[path] = extracted.read()
            missing = wanted - set(found)
            if missing:
                raise RuntimeError(f"The Debian package has no {sorted(missing)} in its {name}")
            return found
    raise RuntimeError("Not a Debian package: no data.tar member")


def _ar_members(archive: bytes) -> List[Tuple[str, bytes]]:
    """(name, content) of each member of an `ar` archive (the common format, as dpkg writes it)."""
    if not archive.startswith(b"!<arch>\n"):
        raise RuntimeError("Not a Debian package: no ar archive header")
    members = []
    offset = 8
    while offset + 60 <= len(archive):
        header = archive[offset : offset + 60]
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        offset += 60
        members.append((name, archive[offset : offset + size]))
        offset += size + (size % 2)  # members are aligned on even offsets
    return members
