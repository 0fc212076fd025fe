"""Short runs of the examples added for the rest of the syllabus (neural ODEs, graph networks,
...): each must clearly learn, or clearly show the effect it demonstrates."""
import os
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
sys.path.insert(0, EXAMPLES)

import darts  # noqa: E402
import feature_viz  # noqa: E402
import generative_metrics  # noqa: E402
import gradient_free  # noqa: E402
import graph_nets  # noqa: E402
import implicit_bias  # noqa: E402
import interpretability  # noqa: E402
import neural_ode  # noqa: E402
import rnn_regularization  # noqa: E402
import self_supervised  # noqa: E402
from data import data_root, mnist_root  # noqa: E402


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


def test_gradient_free_methods_and_estimate_quality(tmp_path):
    pytest.importorskip("matplotlib")
    r = gradient_free.main(budget=400, dims=(10, 100), samples=(1, 10), draws=4, out=str(tmp_path), verbose=False)
    rosen = r["rosenbrock"]                         # f(0) = 9 at the start
    assert rosen["L-BFGS"] < 1e-6 and rosen["CMA-ES"] < 9 and rosen["ES"] < 9 and rosen["Adam"] < 9
    assert all(0 <= a <= 1 for a in r["moons_test_accuracy"].values())
    assert r["moons"]["Adam"] < 0.5 and r["moons"]["CMA-ES"] < 0.69
    cos = r["cosines"]                              # rows d = 10, 100; columns n = 1, 10
    assert cos[0, 1] > cos[0, 0] and cos[0, 1] > cos[1, 1] > 0
    assert (tmp_path / "curves.png").exists()


def test_rnn_regularization_schemes_train(tmp_path):
    pytest.importorskip("matplotlib")
    root = data_root("tinyshakespeare", "input.txt")
    r = rnn_regularization.main(root, steps=40, hidden=32, train_chars=5000, val_chars=3000, eval_every=20,
                                out=str(tmp_path), verbose=False)
    assert set(r) == set(rnn_regularization.SCHEMES)
    for scheme, res in r.items():
        assert res["val"] < 3.6 and res["history"][-1][2] < res["history"][0][2] + 0.05, scheme
    assert (tmp_path / "curves.png").exists()


def test_feature_viz_regularisers_smooth_the_pictures(tmp_path):
    root = mnist_root()
    r = feature_viz.main(root, steps=40, restarts=1, train_size=1000, out=str(tmp_path), verbose=False)
    s = r["settings"]
    assert s["all"]["high_frequency"] < s["none"]["high_frequency"]
    assert s["none"]["logit"] > max(s["all"]["logit"], 0)
    assert (tmp_path / "classes.png").exists() and (tmp_path / "channels.png").exists()


def test_darts_search_runs_and_derives_genotypes(tmp_path):
    pytest.importorskip("matplotlib")
    r = darts.main(mnist_root(), search_epochs=1, train_epochs=1, train_size=256, test_size=200, out=str(tmp_path),
                   verbose=False)
    for name in ("first order", "second order", "random"):
        geno = r[name]["genotype"]
        assert len(geno) == 5 and all(op != "none" for op, _, _ in geno)
        assert 0 <= r[name]["test_accuracy"] <= 1
    assert r["second order"]["search_seconds_per_epoch"] > r["first order"]["search_seconds_per_epoch"]
    assert (tmp_path / "alphas.png").exists()


def test_self_supervised_losses_fall(tmp_path):
    root = data_root("cifar10", "cifar10_subset.npz")
    r = self_supervised.main(root, barlow_epochs=2, mae_epochs=2, train_size=256, test_size=100, probe_steps=50,
                             out=str(tmp_path), verbose=False)
    assert r["barlow_losses"][1] < r["barlow_losses"][0] and r["mae_losses"][1] < r["mae_losses"][0]
    assert all(0 <= r[k] <= 1 for k in ("barlow", "barlow_untrained", "mae", "mae_untrained"))
    assert (tmp_path / "mae_reconstructions.png").exists()


def test_generative_metrics_rank_real_degraded_and_generated_images(tmp_path):
    r = generative_metrics.main(mnist_root(), n=200, gan_epochs=1, ddpm_steps=5, ddpm_T=5, train_size=2000,
                                out=str(tmp_path), verbose=False)
    fid, score = ({k: v[i] for k, v in r["scores"].items()} for i in (0, 1))
    assert r["classifier_accuracy"] > 0.6
    assert fid["train images"] < 0.2 * fid["GAN, untrained"]
    assert fid["noisy 0.3"] > 2 * max(fid["other test images"], fid["noisy 0.1"])
    assert score["train images"] > score["GAN, untrained"] + 0.5
    assert all(1 <= s <= 10 for s in score.values())
    for name in ("scores.json", "gan_samples.png", "ddpm_samples.png"):
        assert (tmp_path / name).exists()
