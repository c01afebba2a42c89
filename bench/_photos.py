"""Real photographs for `python -m bench evidence`, from Debian packages (not a benchmark itself).

Debian's wallpaper packages hold fewer than a hundred photographs once the drawn, rendered and
abstract pictures are left out (and one picture at twelve sizes counts once), so the set adds
the sample photographs that four other Debian packages ship. Every file below was looked at and
is a photograph; near-duplicate pairs (stereo pairs, two frames of one scene) keep one member.

Wallpaper packages are installed with `apt-get install -y` (as root) when missing; the others
are fetched with `apt-get download` and unpacked under the cache directory, so their desktop
dependencies are not installed.
"""

from __future__ import annotations

import glob
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Source:
    """A Debian package and the photographs it holds, relative to its root."""

    package: str
    files: tuple[str, ...]
    install: bool  # apt-get install (a wallpaper package) rather than download and unpack


def _names(prefix: str, names: str, suffix: str) -> tuple[str, ...]:
    return tuple(f"{prefix}{n}{suffix}" for n in names.split())


SOURCES = (
    Source(
        "mate-backgrounds",
        _names(
            "usr/share/backgrounds/mate/nature/",
            "Aqua Blinds Dune FreshFlower Garden GreenMeadow LadyBird RainDrops Storm TwoWings "
            "Wood YellowFlower",
            ".jpg",
        ),
        install=True,
    ),
    Source(
        "lomiri-wallpapers-16.04",
        _names(
            "usr/share/backgrounds/",
            "Bridge_by_Sander_Klootwijk Dragonfly_by_Bolly Picture_0B_by_freespace "
            "Picture_1A_by_freespace Wine_by_Jakkub_Mede aitzgorri_by_Aitzol_Berasategi "
            "friends_by_Aitzol_Berasategi life_by_Aitzol_Berasategi "
            "picosdeeuropa_by_Aitzol_Berasategi seeding_by_Clements_Engelhardt "
            "sunset_by_Aitzol_Berasategi",
            ".jpg",
        ),
        install=True,
    ),
    Source(
        "lomiri-wallpapers-20.04",
        ("usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg",),
        install=True,
    ),
    Source(
        "plasma-workspace-wallpapers",
        # One size of each: the package ships every picture at up to twelve resolutions.
        _names(
            "usr/share/wallpapers/",
            "BytheWater ColdRipple DarkestHour EveningGlow FallenLeaf Grey OneStandsOut Path "
            "summer_1am",
            "/contents/images/1920x1080.jpg",
        )
        + ("usr/share/wallpapers/ColorfulCups/contents/images/2560x1600.jpg",),
        install=True,
    ),
    Source(
        "kphotoalbum",  # the demo album
        _names(
            "usr/share/kphotoalbum/demo/",
            "anne_helene bar55 bar55_2 blackie cold_water donna donna_2 grand_canyon_1 "
            "grand_canyon_2 grand_canyon_3 jesper jesper_2 new_wave_1 new_wave_2 pool pool_2 "
            "qt-logo skagen skagen_2 snow spiff spiff_2 sunset wayne",
            ".jpg",
        ),
        install=False,
    ),
    Source(
        "palapeli-data",
        _names(
            "usr/share/palapeli/collection/",
            "castle-maintenon cincinnati-bridge citrus-fruits european-honey-bee "
            "panther-chameleon-female",
            ".jpg",
        ),
        install=False,
    ),
    Source(
        "opencv-doc",
        _names(
            "usr/share/doc/opencv-doc/examples/data/",
            "aero1 aloeL apple baboon board building butterfly ela_original fruits home "
            "leuvenA left messi5 orange squirrel_cls stuff left01",
            ".jpg",
        )
        + ("usr/share/doc/opencv-doc/examples/alphamat/input_images/plant.jpg",)
        + _names("usr/share/doc/opencv-doc/examples/hfs/data/", "000 001 002", ".jpg")
        + _names(
            "usr/share/doc/opencv-doc/examples/text/",
            "scenetext01 scenetext02 scenetext03 scenetext04 scenetext05 scenetext06 "
            "scenetext_segmented_word01 scenetext_segmented_word02 scenetext_segmented_word03 "
            "scenetext_segmented_word04 scenetext_segmented_word05",
            ".jpg",
        ),
        install=False,
    ),
    Source(
        "python3-skimage",
        _names(
            "usr/lib/python3/dist-packages/skimage/data/",
            "astronaut.png camera.png chelsea.png coffee.png coins.png hubble_deep_field.jpg "
            "ihc.png moon.png motorcycle_left.png retina.jpg rocket.jpg brick.png grass.png "
            "gravel.png page.png text.png cell.png clock_motion.png",
            "",
        ),
        install=False,
    ),
)


def photo_paths(cache: Path, log=print) -> tuple[list[Path], list[str]]:
    """The photographs (fetching packages as needed) and the packages they came from."""
    paths: list[Path] = []
    used: list[str] = []
    for source in SOURCES:
        root = Path("/") if source.install else cache / source.package
        if not all((root / f).exists() for f in source.files):
            _fetch(source, cache, log)
        found = [root / f for f in source.files if (root / f).exists()]
        if len(found) < len(source.files):
            log(f"  {source.package}: {len(source.files) - len(found)} photos missing")
        if found:
            used.append(f"{source.package} ({len(found)})")
        paths += found
    return paths, used


def _fetch(source: Source, cache: Path, log) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        if source.install:
            if os.geteuid() != 0:
                log(f"  {source.package}: not installed and not root; skipped")
                return
            log(f"  apt-get install -y {source.package}")
            subprocess.run(
                ["apt-get", "install", "-y", "-q", source.package],
                check=True, env=env, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            return
        target = cache / source.package
        target.mkdir(parents=True, exist_ok=True)
        log(f"  apt-get download {source.package} (unpacked under {target})")
        subprocess.run(
            ["apt-get", "download", "-q", source.package],
            check=True, cwd=cache, env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        debs = sorted(glob.glob(str(cache / f"{source.package}_*.deb")))
        subprocess.run(["dpkg-deb", "-x", debs[-1], str(target)], check=True)
        os.remove(debs[-1])
    except (OSError, subprocess.CalledProcessError, IndexError) as exc:
        log(f"  {source.package}: could not be fetched ({exc})")
