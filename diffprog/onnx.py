"""`diffprog.onnx` (`torch.onnx`): importable, so scripts that import it only to export on
request run; diffprog has no exporter, and asking for one says so."""


def __getattr__(name):
    raise AttributeError(f"diffprog.onnx has no {name!r}: diffprog cannot export ONNX graphs; save "
                         "the weights with torch.save (diffprog.save) instead")
