"""Translate the scalar household functions (``kernels.household``, ``kernels.rng``) to CUDA C.

The GPU kernel is built from the same Python functions the fused CPU kernel compiles, so the
household arithmetic is written once. The translator covers only the subset those functions use,
and refuses anything else with a one-line error naming the function and the construct:

* parameters annotated ``float`` (double), ``int`` (long long), ``bool``, ``np.float32`` (float),
  ``np.uint64`` (u64) or ``np.ndarray`` (const double*, read-only tables);
* one assignment per local name (C++ ``auto``, the type of its first value; parameters keep their
  declared type when reassigned), ``+=`` and friends,
  tuple unpacking of a call, ``for j in range(...)``, ``return`` of one value or a tuple
  (a small struct ``tupleN``);
* arithmetic, comparisons, ``not``, ``&``, ``|``, ``^``, shifts, ``a if c else b``;
  ``min``/``max`` of two values with Python's semantics (``py_min``/``py_max``), ``int``,
  ``float``, ``np.float32``/``np.float64``/``np.int64``/``np.uint64`` casts, ``math.sqrt``;
* names and module attributes that are numbers become literals (``inputs.P_WAGE`` -> 13);
  calls to other plain functions translate those too (callees first).

IEEE double arithmetic in C is the same as NumPy's and Numba's operation by operation, provided
nothing contracts a*b+c into a fused multiply-add: the kernel is compiled with ``--fmad=false``.
"""
from __future__ import annotations

import ast
import inspect
import math
import textwrap
import types

import numpy as np

PRELUDE = """typedef unsigned long long u64;
template <class A, class B> __device__ __forceinline__ auto py_min(A a, B b) -> decltype(a + b)
{ return b < a ? b : a; }  // Python's min(a, b): a unless b < a
template <class A, class B> __device__ __forceinline__ auto py_max(A a, B b) -> decltype(a + b)
{ return b > a ? b : a; }  // Python's max(a, b): a unless b > a
"""

_TYPES = {"float": "double", "int": "long long", "bool": "bool", "np.float32": "float",
          "np.float64": "double", "np.uint64": "u64", "np.ndarray": "const double*"}
_CASTS = {"int": "long long", "float": "double", "np.float32": "float", "np.float64": "double",
          "np.int64": "long long", "np.uint64": "u64"}
_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.BitXor: "^",
           ast.BitAnd: "&", ast.BitOr: "|", ast.RShift: ">>", ast.LShift: "<<"}
_COMPARE = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}


class TranslationError(ValueError):
    """A construct outside the translatable subset."""


def literal(value) -> str:
    """A number as a C literal of the same value (ints as long long, or u64 beyond its range)."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        v = int(value)
        if not -(2**63) <= v < 2**64:
            raise TranslationError(f"integer constant {v} does not fit 64 bits")
        return f"{v}ULL" if v >= 2**63 or isinstance(value, np.unsignedinteger) else f"{v}LL"
    if isinstance(value, (float, np.floating)) and math.isfinite(value):
        return repr(float(value))
    raise TranslationError(f"constant {value!r} has no C literal here")


class _Function:
    """One Python function turned into a __device__ C function."""

    def __init__(self, func):
        self.func = func
        self.name = func.__name__
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
        self.node = tree.body[0]
        self.locals: set[str] = set()
        self.params: set[str] = set()
        self.callees: list = []
        self.arities: set[int] = set()
        self._temp = 0

    def fail(self, node, what: str):
        raise TranslationError(f"{self.name} (line {getattr(node, 'lineno', '?')}): {what} is not "
                               "in the translatable subset (see kernels/cuda_c.py)")

    def resolve(self, node):
        """The Python object a global name or module attribute stands for."""
        if isinstance(node, ast.Name):
            scope = self.func.__globals__
            if node.id in scope:
                return scope[node.id]
            import builtins
            return getattr(builtins, node.id)
        if isinstance(node, ast.Attribute):
            return getattr(self.resolve(node.value), node.attr)
        self.fail(node, type(node).__name__)

    def ctype(self, annotation, where) -> str:
        text = ast.unparse(annotation) if annotation is not None else None
        if text not in _TYPES:
            self.fail(where, f"annotation {text!r} (use one of {', '.join(_TYPES)})")
        return _TYPES[text]

    def expr(self, node) -> str:
        if isinstance(node, ast.Constant):
            return literal(node.value)
        if isinstance(node, ast.Name) and node.id in self.locals:
            return node.id
        if isinstance(node, (ast.Name, ast.Attribute)):
            value = self.resolve(node)
            if isinstance(value, (types.ModuleType, types.FunctionType)) or callable(value):
                self.fail(node, f"the name {ast.unparse(node)!r} used as a value")
            return literal(value)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return f"({self.expr(node.left)} {_BINARY[type(node.op)]} {self.expr(node.right)})"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
            return f"({'-' if isinstance(node.op, ast.USub) else '!'}{self.expr(node.operand)})"
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
            return (f"({self.expr(node.left)} {_COMPARE[type(node.ops[0])]} "
                    f"{self.expr(node.comparators[0])})")
        if isinstance(node, ast.IfExp):
            return f"({self.expr(node.test)} ? {self.expr(node.body)} : {self.expr(node.orelse)})"
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            return f"{self.expr_name(node.value)}[{self.expr(node.slice)}]"
        if isinstance(node, ast.Call) and not node.keywords:
            return self.call(node)
        self.fail(node, f"the expression {ast.unparse(node)!r}")

    def expr_name(self, node) -> str:
        if node.id not in self.locals:
            self.fail(node, f"indexing the global {node.id!r}")
        return node.id

    def call(self, node) -> str:
        name = ast.unparse(node.func)
        args = [self.expr(a) for a in node.args]
        if name in ("min", "max") and len(args) == 2:
            return f"py_{name}({args[0]}, {args[1]})"
        if name in _CASTS and len(args) == 1:
            return f"(({_CASTS[name]})({args[0]}))"
        if name == "math.sqrt" and len(args) == 1:
            return f"sqrt({args[0]})"
        target = self.resolve(node.func)
        if not isinstance(target, types.FunctionType):
            self.fail(node, f"a call to {name!r}")
        self.callees.append(target)
        return f"{target.__name__}({', '.join(args)})"

    def declare(self, name: str, value: str, node) -> str:
        if name in self.params:  # a parameter keeps its declared type
            return f"{name} = {value};"
        if name in self.locals:
            self.fail(node, f"a second assignment to {name!r} (one per name)")
        self.locals.add(name)
        return f"auto {name} = {value};"

    def statement(self, node, depth: int) -> list[str]:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if depth > 0:
                self.fail(node, "an assignment inside a block (C scope differs)")
            if isinstance(target, ast.Name):
                return [self.declare(target.id, self.expr(node.value), node)]
            if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Call):
                self._temp += 1
                temp = f"_t{self._temp}"
                lines = [f"auto {temp} = {self.call(node.value)};"]
                for k, element in enumerate(target.elts):
                    if not isinstance(element, ast.Name):
                        self.fail(node, "unpacking into something other than names")
                    lines.append(self.declare(element.id, f"{temp}.v{k}", node))
                return lines
            if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                return [line for t, v in zip(target.elts, node.value.elts, strict=True)
                        for line in self.statement(ast.Assign([t], v, lineno=node.lineno), depth)]
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) \
                and type(node.op) in _BINARY and node.target.id in self.locals:
            return [f"{node.target.id} {_BINARY[type(node.op)]}= {self.expr(node.value)};"]
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name) and not node.orelse \
                and isinstance(node.iter, ast.Call) and ast.unparse(node.iter.func) == "range" \
                and 1 <= len(node.iter.args) <= 2:
            bounds = [self.expr(a) for a in node.iter.args]
            start, stop = (["0LL"] + bounds)[-2:]
            var = node.target.id
            self.locals.add(var)
            body = [line for s in node.body for line in self.statement(s, depth + 1)]
            return ([f"for (long long {var} = {start}; {var} < {stop}; ++{var}) {{"]
                    + ["    " + line for line in body] + ["}"])
        if isinstance(node, ast.Return) and node.value is not None:
            if not isinstance(node.value, ast.Tuple):
                return [f"return {self.expr(node.value)};"]
            lines = []
            for k, element in enumerate(node.value.elts):
                lines.append(f"auto _r{k} = {self.expr(element)};")
            n = len(node.value.elts)
            self.arities.add(n)
            kinds = ", ".join(f"decltype(_r{k})" for k in range(n))
            values = ", ".join(f"_r{k}" for k in range(n))
            return lines + [f"return tuple{n}<{kinds}>{{{values}}};"]
        self.fail(node, f"the statement {ast.unparse(node).splitlines()[0]!r}")

    def source(self) -> str:
        node = self.node
        if node.args.vararg or node.args.kwarg or node.args.kwonlyargs or node.args.defaults:
            self.fail(node, "a signature with defaults, *args or keywords")
        params = []
        for arg in node.args.args:
            params.append(f"{self.ctype(arg.annotation, node)} {arg.arg}")
            self.locals.add(arg.arg)
            self.params.add(arg.arg)
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        lines = [line for statement in body for line in self.statement(statement, 0)]
        returns = "auto"
        if node.returns is not None and ast.unparse(node.returns) in _TYPES:
            returns = self.ctype(node.returns, node)
        inner = "\n".join("    " + line for line in lines)
        return (f"__device__ __forceinline__ {returns} {self.name}({', '.join(params)})\n"
                f"{{\n{inner}\n}}\n")


def _tuple_struct(n: int) -> str:
    kinds = ", ".join(f"class T{k}" for k in range(n))
    fields = " ".join(f"T{k} v{k};" for k in range(n))
    return f"template <{kinds}> struct tuple{n} {{ {fields} }};\n"


def translate(*functions) -> str:
    """CUDA C for ``functions`` and everything they call: the prelude, the tuple structs, then
    each function once, callees before callers."""
    done: dict = {}

    def visit(func):
        if func in done:
            return
        done[func] = None  # placeholder: a cycle would recurse forever (recursion is refused by C)
        translated = _Function(func)
        text = translated.source()
        for callee in translated.callees:
            visit(callee)
        done.pop(func)
        done[func] = (text, translated.arities)

    for func in functions:
        visit(func)
    arities = sorted({n for _, found in done.values() for n in found})
    return (PRELUDE + "".join(_tuple_struct(n) for n in arities)
            + "\n".join(text for text, _ in done.values()))
