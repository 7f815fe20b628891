"""One distribution, ``venue``, for every role; extras keep each device's install small.

A gate Pi installs ``venue[gate]`` and never pulls Kivy; a kiosk installs ``venue[kiosk]`` and never
pulls FastAPI.
"""

from pathlib import Path

from setuptools import find_packages, setup

CORE = [
    "paho-mqtt>=2.1",
    "phonenumbers>=8.13",
    "cryptography>=42",
    "requests>=2.31",
]
HUB = [
    "fastapi>=0.110",
    "uvicorn[standard]>=0.29",
    "python-barcode>=0.15",
    "sqlalchemy>=2.0.30",
    "alembic>=1.13",
    "segno>=1.6",
    "openpyxl>=3.1",
    "python-multipart>=0.0.9",
    "psycopg[binary]>=3.1",
    "fpdf2>=2.7",
]
SCAN = [
    "zxing-cpp>=2.2",
    "pyzbar>=0.1.9",
    "numpy>=1.26",
    "pillow>=10",
]
PICAMERA = (
    "picamera2>=0.3.17; platform_machine == 'aarch64' and sys_platform == 'linux'"
)
GATE = [
    *SCAN,
    "gpiozero>=2.0",
    "pyserial>=3.5",
    "evdev>=1.7; sys_platform == 'linux'",
    PICAMERA,
]
KIOSK = [*SCAN, "kivy>=2.3.1", "segno>=1.6"]
BEACON = ["bleak>=0.22"]
PROVISION = ["bcrypt>=4", "rich>=13"]
MONITOR = ["rich>=13"]
DEV = [
    "pytest>=8",
    "pytest-timeout>=2.3",
    "pytest-xdist>=3.5",
    "hypothesis>=6.100",
    "ruff>=0.4",
    "mypy>=1.10",
    "types-requests>=2.31",
    "httpx>=0.27",
    "schemathesis>=3.27",
    "aiosmtpd>=1.4",
    "playwright>=1.40",
    "beacontools>=2.1",
    "pyyaml>=6",
]
EXTRAS = {
    "hub": HUB + MONITOR,
    "gate": GATE,
    "kiosk": KIOSK,
    "beacon": BEACON,
    "provision": PROVISION,
    "monitor": MONITOR,
    "dev": DEV,
}
EXTRAS["all"] = sorted({dep for deps in EXTRAS.values() for dep in deps if dep != PICAMERA})

setup(
    name="venue",
    version="0.1.0",
    description="Self-service venue devices on Raspberry Pi: kiosk, gate, beacon, and their hub",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(
        include=["venue", "venue.*", "hub", "hub.*", "kiosk", "kiosk.*", "gate", "gate.*",
                 "beacon", "beacon.*", "firmware_config", "firmware_config.*",
                 "loadsim", "loadsim.*"]
    ),
    include_package_data=True,
    package_data={"hub": ["migrations/*.ini", "migrations/*.py", "migrations/versions/*.py",
                          "static/*", "templates/*", "ops/web/*"],
                  "kiosk": ["locale/*/LC_MESSAGES/*.mo", "locale/*/LC_MESSAGES/*.po"]},
    install_requires=CORE,
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["venue = venue.cli:main"]},
)
