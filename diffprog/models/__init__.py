"""Reusable models from the course, beyond the vision classics (`diffprog.vision.models`):
autoencoders, VAEs, GANs, diffusion, self-supervised learning, language models, text
classifiers, word2vec, minimal recurrent networks, differentiable architecture search
(DARTS), and scores for generative models (FID, IS). The runnable training scripts that use
them are in `examples/`.
"""
from .autoencoders import *  # noqa: F401,F403
from .vae import *  # noqa: F401,F403
from .gan import *  # noqa: F401,F403
from .diffusion import *  # noqa: F401,F403
from .simclr import *  # noqa: F401,F403
from .barlow_twins import *  # noqa: F401,F403
from .mae import *  # noqa: F401,F403
from .minrnn import *  # noqa: F401,F403
from .positional import *  # noqa: F401,F403
from .language import *  # noqa: F401,F403
from .text_classifiers import *  # noqa: F401,F403
from .word2vec import *  # noqa: F401,F403
from .generative_metrics import *  # noqa: F401,F403
from .darts import *  # noqa: F401,F403
from . import (autoencoders, vae, gan, diffusion, simclr, barlow_twins, mae, minrnn, positional, language,
               text_classifiers, word2vec, generative_metrics, darts)

__all__ = [n for m in (autoencoders, vae, gan, diffusion, simclr, barlow_twins, mae, minrnn, positional, language,
                       text_classifiers, word2vec, generative_metrics, darts) for n in m.__all__]
