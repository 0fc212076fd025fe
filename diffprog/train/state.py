"""State keys: the names under which a `Trial` keeps everything in its state dict.

A `StateKey` compares and hashes like its name, so `state[MODEL]` and `state['model']`
find the same entry, and a state dict saved with string keys (see `Trial.state_dict`)
is indexed with the keys directly.  A key is also a metric: `Trial(metrics=[EPOCH])`
reports the value stored under it.  Make new keys with `state_key(name)`; a name that
is taken gets underscores appended so two keys never collide.
"""

__all__ = ["StateKey", "state_key", "State", "VERSION", "MODEL", "CRITERION", "OPTIMIZER",
           "DEVICE", "DATA_TYPE", "SELF", "METRIC_LIST", "CALLBACK_LIST", "HISTORY",
           "BACKWARD_ARGS", "LOADER", "INF_TRAIN_LOADING", "RNG_STATE", "TRAIN_GENERATOR",
           "TRAIN_STEPS", "TRAIN_DATA", "VALIDATION_GENERATOR", "VALIDATION_STEPS",
           "VALIDATION_DATA", "TEST_GENERATOR", "TEST_STEPS", "TEST_DATA", "GENERATOR", "ITERATOR",
           "STEPS", "DATA", "SAMPLER", "X", "Y_TRUE", "Y_PRED", "INPUT", "TARGET", "PREDICTION",
           "LOSS", "BATCH",
           "FINAL_PREDICTIONS", "EPOCH", "MAX_EPOCHS", "STOP_TRAINING", "METRICS", "TIMINGS",
           "CALLBACK_STATES", "CALLBACK_TYPES"]

_KEYS = set()


class StateKey:
    """A unique key into the trial state (and a metric reporting the value under it)."""

    dict_output = True  # as a metric, returns {name: value}

    def __init__(self, key):
        self.key = self.name = key

    def process(self, state):
        return {self.key: state[self]}

    def process_final(self, state):
        return {self.key: state[self]}

    def reset(self, state):
        pass

    def train(self):
        pass

    def eval(self, data_key=None):
        pass

    def __str__(self):
        return self.key

    def __repr__(self):
        return self.key

    def __eq__(self, other):
        return self.key == str(other)

    def __hash__(self):
        return hash(self.key)


def state_key(key):
    """A new StateKey named `key` (with '_' appended while the name is taken)."""
    while key in _KEYS:
        key += "_"
    _KEYS.add(key)
    return StateKey(key)


class State(dict):
    """The trial state: a dict keyed by StateKeys (their names work too)."""

    @property
    def data(self):
        return self


# The trial's components
VERSION = state_key("version")
MODEL = state_key("model")
CRITERION = state_key("criterion")
OPTIMIZER = state_key("optimizer")
DEVICE = state_key("device")
DATA_TYPE = state_key("dtype")
SELF = state_key("self")
METRIC_LIST = state_key("metric_list")
CALLBACK_LIST = state_key("callback_list")
HISTORY = state_key("history")
BACKWARD_ARGS = state_key("backward_args")
LOADER = state_key("loader")
INF_TRAIN_LOADING = state_key("inf_train_loading")
RNG_STATE = state_key("rng_state")

# Data: a (generator, steps) pair per split, its parts, and the split in use
TRAIN_GENERATOR = state_key("train_generator")
TRAIN_STEPS = state_key("train_steps")
TRAIN_DATA = state_key("train_data")
VALIDATION_GENERATOR = state_key("validation_generator")
VALIDATION_STEPS = state_key("validation_steps")
VALIDATION_DATA = state_key("validation_data")
TEST_GENERATOR = state_key("test_generator")
TEST_STEPS = state_key("test_steps")
TEST_DATA = state_key("test_data")
GENERATOR = state_key("generator")
ITERATOR = state_key("iterator")
STEPS = state_key("steps")
DATA = state_key("data")
SAMPLER = state_key("sampler")

# The current batch (Torchbearer's other names for the first three: INPUT, TARGET, PREDICTION)
INPUT = X = state_key("x")
TARGET = Y_TRUE = state_key("y_true")
PREDICTION = Y_PRED = state_key("y_pred")
LOSS = state_key("loss")
BATCH = state_key("t")
FINAL_PREDICTIONS = state_key("final_predictions")

# Progress
EPOCH = state_key("epoch")
MAX_EPOCHS = state_key("max_epochs")
STOP_TRAINING = state_key("stop_training")
METRICS = state_key("metrics")
TIMINGS = state_key("timings")
CALLBACK_STATES = state_key("callback_states")
CALLBACK_TYPES = state_key("callback_types")
