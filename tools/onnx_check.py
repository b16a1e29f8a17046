#!/usr/bin/python3
"""Checks ONNX files as ONNX itself does (Debian's python3-onnx): the full checker and strict
shape inference with type checks; prints the inferred output shape and the metadata keys.

    /usr/bin/python3 tools/onnx_check.py model.onnx [...]
"""
import sys

import onnx


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for path in sys.argv[1:]:
        try:
            model = onnx.load(path)
            onnx.checker.check_model(model, full_check=True)
            inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
        except Exception as e:  # onnx raises its own error types, protobuf's DecodeError, OSError
            sys.exit(f"error: {path}: {type(e).__name__}: {e}")
        out = inferred.graph.output[0].type.tensor_type.shape.dim
        shape = [d.dim_param or d.dim_value for d in out]
        ops = sorted({n.op_type for n in model.graph.node})
        print(f"{path}: checker and shape inference ok; opset {model.opset_import[0].version}; "
              f"output {inferred.graph.output[0].name} {shape}; ops {' '.join(ops)}; "
              f"metadata {' '.join(p.key for p in model.metadata_props)}")


if __name__ == "__main__":
    main()
