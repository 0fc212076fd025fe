"""Looking inside: autograd graphs as Graphviz DOT, feature maps, filters, saliency, Grad-CAM,
recording and patching activations (mechanistic interpretability), and activation
maximisation (feature visualisation).

Plotting needs matplotlib; rendering graphs to SVG/PNG needs the Graphviz `dot` program."""
from .graph import make_dot, render_graph, save_graph
from .features import feature_maps, plot_feature_maps, plot_filters
from .saliency import saliency, grad_cam, plot_heatmap
from .patching import record_activations, patch_activations, activation_patching
from .maximize import activation_maximization, total_variation, high_frequency_energy

__all__ = ["make_dot", "render_graph", "save_graph", "feature_maps", "plot_feature_maps",
           "plot_filters", "saliency", "grad_cam", "plot_heatmap", "record_activations",
           "patch_activations", "activation_patching", "activation_maximization", "total_variation",
           "high_frequency_energy"]
