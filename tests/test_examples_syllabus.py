"""Short runs of the examples added for the rest of the syllabus (neural ODEs, graph networks,
...): each must clearly learn, or clearly show the effect it demonstrates."""
import os
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
sys.path.insert(0, EXAMPLES)

import graph_nets  # noqa: E402


def test_graph_networks_beat_the_mlp_on_a_block_model(tmp_path):
    pytest.importorskip("matplotlib")
    r = graph_nets.main("sbm", epochs=60, out=str(tmp_path), verbose=False)
    assert r["GCN"] > 0.8 and r["GAT"] > 0.75 and r["MLP"] < 0.6
    assert (tmp_path / "embedding.png").exists()


def test_graph_networks_on_the_karate_club(tmp_path):
    pytest.importorskip("networkx")
    pytest.importorskip("matplotlib")
    r = graph_nets.main("karate", epochs=60, out=str(tmp_path), verbose=False)
    assert r["GCN"] > 0.85
