"""CTCLoss: the connectionist temporal classification loss (over `F.ctc_loss`)."""
from .. import functional as F
from .loss import _Loss

__all__ = ["CTCLoss"]


class CTCLoss(_Loss):
    """CTC loss of log-probabilities (T, N, C) against unaligned target label sequences.

    forward(log_probs, targets, input_lengths, target_lengths); `blank` is the blank
    label's index; with `zero_infinity` impossible alignments (infinite losses) give 0."""

    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        super().__init__(reduction=reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank,
                          self.reduction, self.zero_infinity)
