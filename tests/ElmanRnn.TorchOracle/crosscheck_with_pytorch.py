#!/usr/bin/env python3
"""Optional cross-check of the oracle's fixtures against Python PyTorch's own torch.nn.RNN.

The fixtures come from libtorch through TorchSharp, which wraps the C++ torch::nn::RNN rather than Python's
nn.RNN; this script confirms that the oracle's handling of unbatched input, packed input and h0 ordering matches
Python's, that PyBridge's .pt files load with torch.load, and that the optimizer trajectories (Fixtures/optim) are
what Python's own torch.optim classes and torch.nn.utils clipping functions produce. It needs only PyTorch and NumPy (on Debian 12:
`apt-get install python3-torch`, PyTorch 1.13), no network, and is not part of any build or test run.

Usage, from the repository root:
    /usr/bin/python3 tests/ElmanRnn.TorchOracle/crosscheck_with_pytorch.py tests/ElmanRnn.Tests/Fixtures
"""
import json
import pathlib
import struct
import sys

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

SAFETENSORS_DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
# Different libtorch version and BLAS than the fixtures: same relative tolerances as the live parity run.
TOLERANCE = {"float32": 1e-5, "float64": 1e-12}
# 15 optimizer steps compound the rounding differences (and PyTorch < 2.1's Adam updates exp_avg with mul_/add_, not
# lerp_): the tolerances the library's trajectory tests use.
OPTIM_TOLERANCE = {"float32": 1e-4, "float64": 1e-10}


def read_safetensors(path):
    raw = path.read_bytes()
    (header_length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + header_length])
    metadata = header.pop("__metadata__", {})
    start = 8 + header_length
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        array = np.frombuffer(raw[start + begin:start + end], dtype=SAFETENSORS_DTYPES[entry["dtype"]])
        tensors[name] = torch.from_numpy(array.reshape(entry["shape"]).copy())
    return tensors, metadata


def build(metadata):
    rnn = torch.nn.RNN(
        int(metadata["input_size"]), int(metadata["hidden_size"]), int(metadata["num_layers"]),
        nonlinearity=metadata["nonlinearity"], bias=metadata["bias"] == "true",
        batch_first=metadata["batch_first"] == "true", dropout=float(metadata["dropout"]),
        bidirectional=metadata["bidirectional"] == "true",
        dtype=torch.float32 if metadata["dtype"] == "float32" else torch.float64)
    return rnn.eval()


def forward(rnn, metadata, tensors):
    h0 = tensors.get("h0")
    with torch.no_grad():
        if metadata["input_kind"] == "packed":
            packed = pack_padded_sequence(tensors["input"], tensors["lengths"], batch_first=False,
                                          enforce_sorted=False)
            output, h_n = rnn(packed, h0)
            output, _ = pad_packed_sequence(output, batch_first=False)
            return output, h_n
        return rnn(tensors["input"], h0)  # Python handles unbatched (L, I) input itself


def relative_error(metadata, tensors, output, h_n):
    expected_output, expected_h_n = tensors["output"], tensors["h_n"]
    if output.shape != expected_output.shape or h_n.shape != expected_h_n.shape:
        return float("inf")
    # Never divide by less than 1: rounding errors scale with the summed terms (about 1 here), not the result.
    scale = max(expected_output.abs().max().item(), expected_h_n.abs().max().item(), 1.0)
    difference = max((output - expected_output).abs().max().item(), (h_n - expected_h_n).abs().max().item())
    return difference / scale


def make_optimizer(metadata, parameters):
    """torch.optim as the fixture's metadata describes it; "defaults" cases get only the parameters, and torch's
    defaults must then be the hyper-parameters the metadata records."""
    number = lambda key: float(metadata[key])
    kind = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[metadata["optimizer"]]
    if metadata["optimizer"] == "sgd":
        return kind(parameters, lr=number("lr"), momentum=number("momentum"), dampening=number("dampening"),
                    weight_decay=number("weight_decay"), nesterov=metadata["nesterov"] == "true")
    stated = dict(lr=number("lr"), betas=(number("beta1"), number("beta2")), eps=number("eps"),
                  weight_decay=number("weight_decay"), amsgrad=metadata["amsgrad"] == "true")
    if metadata["defaults"] != "true":
        return kind(parameters, **stated)
    optimizer = kind(parameters)
    group = optimizer.param_groups[0]
    for key, value in stated.items():
        if group[key] != value:
            raise ValueError(f"torch's default {key} is {group[key]}, the fixture says {value}")
    return optimizer


def optim_error(metadata, tensors):
    """Trains the fixture's model with Python's torch.optim; the worst relative error over every step's loss, clip
    norm and parameters."""
    dtype = torch.float32 if metadata["dtype"] == "float32" else torch.float64
    rnn = build(metadata)
    directions = 2 if metadata["bidirectional"] == "true" else 1
    head = torch.nn.Linear(directions * int(metadata["hidden_size"]), int(metadata["output_size"]), dtype=dtype)
    named = [(n, p) for n, p in rnn.named_parameters()] + [("head." + n, p) for n, p in head.named_parameters()]
    with torch.no_grad():
        for name, parameter in named:
            parameter.copy_(tensors[name])
    parameters = [p for _, p in named]
    optimizer = make_optimizer(metadata, parameters)
    worst = 0.0

    def compare(actual, expected):
        nonlocal worst
        scale = max(expected.abs().max().item(), 1.0)
        worst = max(worst, (actual.to(torch.float64) - expected.to(torch.float64)).abs().max().item() / scale)

    for step in range(int(metadata["steps"])):
        optimizer.zero_grad()
        output, _ = rnn(tensors["input"])
        loss = torch.nn.functional.mse_loss(head(output), tensors["target"])
        loss.backward()
        compare(loss.detach().reshape(1), tensors["loss"][step:step + 1])
        if metadata["clip"] == "norm":
            total = torch.nn.utils.clip_grad_norm_(parameters, float(metadata["max_norm"]),
                                                   float(metadata["norm_type"]))
            compare(total.detach().reshape(1), tensors["clip_norm"][step:step + 1])
        elif metadata["clip"] == "value":
            torch.nn.utils.clip_grad_value_(parameters, float(metadata["clip_value"]))
        optimizer.step()
        for name, parameter in named:
            compare(parameter.detach(), tensors["after." + name][step])
    return worst


def main(fixtures):
    failures = 0
    worst = {"float32": 0.0, "float64": 0.0}
    golden = sorted((fixtures / "torch").glob("*.safetensors"))
    for path in golden:
        tensors, metadata = read_safetensors(path)
        rnn = build(metadata)
        rnn.load_state_dict({name: tensors[name] for name, _ in rnn.named_parameters()}, strict=True)
        error = relative_error(metadata, tensors, *forward(rnn, metadata, tensors))
        worst[metadata["dtype"]] = max(worst[metadata["dtype"]], error)
        if error > TOLERANCE[metadata["dtype"]]:
            failures += 1
            print(f"FAIL {path.name}: relative error {error:.3g}")

    pybridge = sorted((fixtures / "pybridge").glob("*.io.safetensors"))
    for io_path in pybridge:
        name = io_path.name[:-len(".io.safetensors")]
        tensors, metadata = read_safetensors(io_path)
        for weights in ("pt", "safetensors"):
            weights_path = io_path.with_name(f"{name}.{weights}")
            state = torch.load(weights_path) if weights == "pt" else read_safetensors(weights_path)[0]
            rnn = build(metadata)
            rnn.load_state_dict(state, strict=True)
            error = relative_error(metadata, tensors, *forward(rnn, metadata, tensors))
            if error > TOLERANCE[metadata["dtype"]]:
                failures += 1
                print(f"FAIL {weights_path.name}: relative error {error:.3g}")

    optim = sorted((fixtures / "optim").glob("*.safetensors"))
    optim_worst = {"float32": 0.0, "float64": 0.0}
    for path in optim:
        tensors, metadata = read_safetensors(path)
        error = optim_error(metadata, tensors)
        optim_worst[metadata["dtype"]] = max(optim_worst[metadata["dtype"]], error)
        if error > OPTIM_TOLERANCE[metadata["dtype"]]:
            failures += 1
            print(f"FAIL {path.name}: relative error {error:.3g}")

    print(f"PyTorch {torch.__version__}: {len(golden)} golden files, {len(pybridge)} PyBridge modules (.pt and "
          f".safetensors); worst relative error float32 {worst['float32']:.3g}, float64 {worst['float64']:.3g}; "
          f"{len(optim)} optimizer trajectories (torch.optim), worst relative error float32 "
          f"{optim_worst['float32']:.3g}, float64 {optim_worst['float64']:.3g}; {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1])))
