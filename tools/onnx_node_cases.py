"""ONNX's own backend node test cases, generated offline from Debian's python3-onnx (1.12).

    tools/python.sh tools/onnx_node_cases.py generate DIR [--op_type=Conv]
        writes DIR/node/test_*/ (model.onnx, test_data_set_N/input_K.pb, output_K.pb), as
        `python3 -m onnx.backend.test.cmd_tools generate-data -o DIR` does
    tools/python.sh tools/onnx_node_cases.py exceptions DIR/node CONFORMANCE_OUTPUT IMPORTED_OPS
        the cases whose ops dlf's import all takes that do not pass, grouped by reason (the
        README's list); CONFORMANCE_OUTPUT is what bazel-bin/models/onnx/conformance printed,
        IMPORTED_OPS what it printed with --imported_ops

The generator in ONNX 1.12 still uses numpy's aliases np.float, np.int, np.bool and np.object,
which numpy 1.24 (Debian 12's) removed: they are restored as the builtins they stood for.
"""
import argparse
import collections
import os
import re
import sys
import warnings


def restore_numpy_aliases():
    import numpy as np
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, builtin in (("float", float), ("int", int), ("bool", bool), ("object", object)):
            if not hasattr(np, name):
                setattr(np, name, builtin)


def generate(args):
    restore_numpy_aliases()
    from onnx.backend.test import cmd_tools
    cmd_tools.generate_data(argparse.Namespace(output=args.dir, op_type=args.op_type))
    count = len(os.listdir(os.path.join(args.dir, "node")))
    print(f"{args.dir}/node: {count} node test cases")


def exceptions(args):
    import onnx
    imported = set(open(args.imported_ops).read().split())
    verdicts = {}
    for line in open(args.conformance_output):
        m = re.match(r"(test_\S+): (passed|failed|unsupported)(?:: (.*))?$", line.rstrip("\n"))
        if m:
            verdicts[m.group(1)] = (m.group(2), m.group(3) or "")
    by_reason = collections.defaultdict(list)
    for case in sorted(verdicts):
        verdict, detail = verdicts[case]
        model = onnx.load(os.path.join(args.cases, case, "model.onnx"), load_external_data=False)
        ops = {n.op_type for n in model.graph.node}
        if verdict == "passed" or not ops <= imported:
            continue
        # The reason without paths and node names, so that like cases group.
        reason = re.sub(r"\S*model\.onnx: |\S*\.pb: ", "", detail)
        reason = re.sub(r"node '[^']*'(: | )", "", reason)
        reason = re.sub(r"(tensor|input|output|its input|its statistic) '[^']*'", r"\1", reason)
        by_reason[f"{verdict}: {reason}"].append(case)
    for reason, cases in sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        print(f"- {reason} ({len(cases)}): {', '.join(c[len('test_'):] for c in cases)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="write ONNX's node test cases to DIR/node")
    g.add_argument("dir")
    g.add_argument("--op_type", default=None, help="only the cases of this op")
    g.set_defaults(func=generate)
    e = sub.add_parser("exceptions", help="cases of imported ops that do not pass, by reason")
    e.add_argument("cases")
    e.add_argument("conformance_output")
    e.add_argument("imported_ops")
    e.set_defaults(func=exceptions)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
