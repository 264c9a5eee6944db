import pandas as pd
import pytest

from forecast.analysis.summaries.claims import (
    causal_edges,
    claim_sort_key,
    load_claim_map,
    node_claims,
)


@pytest.mark.parametrize(
    ("parent", "child", "lag", "claims"),
    [
        ("occupation", "pressure", 1, ("C2",)),
        ("occupation", "escalation", 1, ("C11",)),
        ("pressure", "escalation", 1, ("C11",)),
        ("escalation", "partners", 0, ("C12",)),
        ("occupation", "mediation", 1, ("C6",)),
        ("partners", "mediation", 1, ("C13",)),
        ("mediation", "talks", 1, ("C8",)),
        ("pressure", "talks", 1, ("C10", "C14")),
        ("occupation", "talks", 1, ("C9",)),
        ("talks", "land_for_land", 1, ("C4",)),
        ("occupation", "land_for_land", 1, ("C3",)),
        ("talks", "ceasefire", 1, ("C15",)),
    ],
)
def test_kursk_edges_carry_their_claims(kursk, claim_map, parent, child, lag, claims):
    edges = causal_edges(kursk, claim_map)
    row = edges[(edges["parent"] == parent) & (edges["child"] == child)]
    assert len(row) == 1
    assert row.iloc[0]["lag"] == lag
    assert row.iloc[0]["claims"] == claims


def test_every_edge_is_listed_once(kursk, claim_map):
    edges = causal_edges(kursk, claim_map)
    expected = {(p, n.name) for n in kursk.nodes for p, _ in n.parents}
    assert set(zip(edges["parent"], edges["child"], strict=True)) == expected
    assert len(edges) == len(expected)


def test_node_claims_are_the_ones_not_on_edges(kursk, claim_map):
    claims = node_claims(kursk, claim_map)
    assert claims["occupation"] == ("C1",)
    assert claims["pressure"] == ("C5",)
    assert claims["talks"] == ()
    assert claims["mediation"] == ()
    assert claims["land_for_land"] == ()
    on_edges = {c for cs in causal_edges(kursk, claim_map)["claims"] for c in cs}
    listed = {c for n in kursk.nodes for c in n.claims}
    assert on_edges | {c for cs in claims.values() for c in cs} == listed


def test_without_claim_map_claims_stay_on_nodes(kursk):
    edges = causal_edges(kursk)
    assert all(c == () for c in edges["claims"])
    assert node_claims(kursk)["talks"] == ("C8", "C9", "C10", "C14")


def test_claim_map_parses_edges_and_nodes(claim_map):
    row = claim_map.set_index("claim_id").loc["C11"]
    assert row["edges"] == (("occupation", "escalation"), ("pressure", "escalation"))
    assert claim_map.set_index("claim_id").loc["C1"]["nodes"] == ("occupation",)
    assert claim_map.set_index("claim_id").loc["C7"]["edges"] == ()


def test_claim_map_needs_its_columns(tmp_path):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"claim_id": ["C1"], "claim": ["x"]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="models"):
        load_claim_map(path)


def test_claims_sort_naturally():
    assert sorted(["C10", "C2", "C1", "X"], key=claim_sort_key) == ["C1", "C2", "C10", "X"]
