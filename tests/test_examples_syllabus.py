"""Short runs of the examples added for the rest of the syllabus (neural ODEs, graph networks,
...): each must clearly learn, or clearly show the effect it demonstrates."""
import os
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
sys.path.insert(0, EXAMPLES)

import graph_nets  # noqa: E402
import implicit_bias  # noqa: E402
import interpretability  # noqa: E402
import neural_ode  # noqa: E402


@pytest.mark.parametrize("adjoint", [False, True])
def test_neural_ode_learns_the_spiral(tmp_path, adjoint):
    pytest.importorskip("matplotlib")
    r = neural_ode.main(iters=60, n_points=200, adjoint=adjoint, out=str(tmp_path), verbose=False)
    assert r["error"] < 0.6 * r["untrained_error"]
    assert (tmp_path / "spiral.png").exists() and (tmp_path / "odefunc.pt").exists()


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


def test_interpretability_finds_the_induction_circuit(tmp_path):
    pytest.importorskip("matplotlib")
    r = interpretability.main(steps=200, batch=32, n_probe=800, n_patch=40, out=str(tmp_path), verbose=False)
    assert r["accuracy"] > 0.6
    restored = r["patching"]["restored"]           # rows: embedding, block 0, block 1, attention 0, 1
    changed, query = r["patching"]["changed"], r["patching"]["query"]
    assert restored[0, changed] > 0.9 and restored[2, query] > 0.9 and restored[4, query] > 0.7
    assert abs(restored[2, changed]) < 0.1 and abs(restored[0, query]) < 0.1
    assert r["probes"]["next token"][2] > 0.5 > r["probes"]["next token"][0]
    assert (tmp_path / "patching.png").exists()


def test_implicit_bias_and_gradient_starvation(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    r = implicit_bias.main(ls_steps=3000, mm_steps=(100, 3000), starvation_steps=600, out=str(tmp_path),
                           verbose=False)
    ls, mm, st = r["least_squares"], r["max_margin"], r["starvation"]
    assert ls["gd_distance"] < 1e-6 and abs(ls["w0_distance"] - ls["w0_predicted"]) < 1e-6
    assert ls["w0_distance"] > 1.0 and ls["adam_norm"] > ls["pinv_norm"] * 1.05
    assert mm["cosines"][1] > mm["cosines"][0] and mm["cosines"][1] > 0.99 and mm["norms"][1] > mm["norms"][0]
    assert st["both features"]["train"] == 1.0
    assert st["hard feature only"]["hard_only_test"] > st["both features"]["hard_only_test"] + 0.1
    assert (tmp_path / "starvation.png").exists()
