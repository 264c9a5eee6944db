"""Where the tests find the repository's files, whatever folder a test module sits in."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SCENARIOS = TESTS / "scenarios"
TINY = SCENARIOS / "tiny_chain.yaml"
KURSK = ROOT / "scenarios" / "kursk_2024.yaml"
CLAIM_MAP = ROOT / "seeds" / "claim_map.csv"
