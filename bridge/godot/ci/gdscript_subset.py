"""A tree-walking interpreter for the subset of GDScript 2.0 that the addon's logic files use.

Godot 4 cannot be installed on the CI machines (only Godot 3.2 is packaged), so CI runs the
addon's real .gd source with this interpreter: gdtoolkit parses it (its lark grammar is the
one gdlint uses) and the tree is evaluated with Godot 4's rules where they differ from
Python's: 64-bit wrapping ints, integer division truncating toward zero, C remainders,
`and`/`or` giving bools, empty containers false, Arrays/Dictionaries/Packed arrays passed by
reference, and a runtime error for comparing unrelated types.

Built-in classes (PackedByteArray, PackedFloat32Array, PackedVector2Array, Vector2, Time,
StreamPeerTCP, ...) are Python stand-ins written from Godot 4's class reference: they are the
part this interpreter cannot prove, and tests say which ones they touch. Anything outside
the subset (await, signals, lambdas, match, Node APIs) raises GDScriptError naming the file
and line, so unsupported code fails loudly instead of being skipped.
"""

from __future__ import annotations

import errno
import fcntl
import math
import select
import socket
import struct
import termios
import time
from pathlib import Path
from typing import Any, Callable

from gdtoolkit.parser import parser
from lark import Token, Tree

INT64 = 1 << 64


class GDScriptError(Exception):
    """A GDScript runtime error (or a construct outside the supported subset)."""


def wrap_int(value: int) -> int:
    return (value + (1 << 63)) % INT64 - (1 << 63)


# --- Godot built-in value types, from Godot 4's class reference -------------------------------

class PackedByteArray:
    """Bytes; decode_*/encode_* are little-endian (Godot's host order on every platform it runs on)."""

    def __init__(self, data: Any = b""):
        self.data = bytearray(data.data if isinstance(data, PackedByteArray) else bytes(data))

    def __len__(self):
        return len(self.data)

    def __eq__(self, other):
        return isinstance(other, PackedByteArray) and self.data == other.data

    def __repr__(self):
        return f"PackedByteArray({self.data.hex()})"

    def gd_index(self, index: int) -> int:
        return self.data[check_index(index, len(self.data))]

    def gd_set_index(self, index: int, value: int) -> None:
        self.data[check_index(index, len(self.data))] = value & 0xFF

    def size(self):
        return len(self.data)

    def is_empty(self):
        return not self.data

    def resize(self, size):
        if size < len(self.data):
            del self.data[size:]
        else:
            self.data.extend(bytes(size - len(self.data)))
        return 0

    def append(self, value):
        self.data.append(value & 0xFF)
        return False

    def push_back(self, value):
        return self.append(value)

    def append_array(self, other):
        self.data.extend(other.data)

    def clear(self):
        self.data.clear()

    def slice(self, begin, end=INT64):
        size = len(self.data)
        begin = max(0, begin + size if begin < 0 else begin)
        end = max(0, end + size if end < 0 else min(end, size))
        return PackedByteArray(self.data[begin:end])

    def duplicate(self):
        return PackedByteArray(self.data)

    def _check(self, offset, width):
        if offset < 0 or offset + width > len(self.data):
            raise GDScriptError(f"PackedByteArray offset {offset} + {width} out of bounds ({len(self.data)})")

    def decode_u8(self, offset):
        self._check(offset, 1)
        return self.data[offset]

    def decode_float(self, offset):
        self._check(offset, 4)
        return struct.unpack_from("<f", self.data, offset)[0]

    def decode_double(self, offset):
        self._check(offset, 8)
        return struct.unpack_from("<d", self.data, offset)[0]

    def encode_double(self, offset, value):
        self._check(offset, 8)
        struct.pack_into("<d", self.data, offset, value)

    def encode_float(self, offset, value):
        self._check(offset, 4)
        struct.pack_into("<f", self.data, offset, value)

    def get_string_from_ascii(self):
        return self.data.split(b"\0", 1)[0].decode("latin-1")

    def get_string_from_utf8(self):
        return self.data.decode("utf-8", errors="replace")

    def hex_encode(self):
        return self.data.hex()

    def to_float32_array(self):
        usable = len(self.data) - len(self.data) % 4
        return PackedFloat32Array(struct.unpack(f"<{usable // 4}f", self.data[:usable]))


class PackedFloat32Array:
    def __init__(self, values: Any = ()):
        self.values = [float(v) for v in (values.values if isinstance(values, PackedFloat32Array) else values)]

    def __len__(self):
        return len(self.values)

    def gd_index(self, index):
        return self.values[check_index(index, len(self.values))]

    def gd_set_index(self, index, value):
        self.values[check_index(index, len(self.values))] = struct.unpack("<f", struct.pack("<f", value))[0]

    def size(self):
        return len(self.values)

    def is_empty(self):
        return not self.values

    def resize(self, size):
        self.values = self.values[:size] + [0.0] * max(0, size - len(self.values))
        return 0

    def append_array(self, other):
        self.values.extend(other.values)

    def slice(self, begin, end=INT64):
        return PackedFloat32Array(self.values[max(0, begin):max(0, min(end, len(self.values)))])


class Vector2:
    def __init__(self, x=0.0, y=0.0):
        self.x, self.y = float(x), float(y)

    def __eq__(self, other):
        return isinstance(other, Vector2) and (self.x, self.y) == (other.x, other.y)

    def __repr__(self):
        return f"Vector2({self.x}, {self.y})"


class PackedVector2Array:
    def __init__(self, values: Any = ()):
        self.values = list(values.values if isinstance(values, PackedVector2Array) else values)

    def __len__(self):
        return len(self.values)

    def gd_index(self, index):
        return self.values[check_index(index, len(self.values))]

    def gd_set_index(self, index, value):
        # Godot stores 32-bit floats in Vector2 (single-precision builds, the default).
        self.values[check_index(index, len(self.values))] = Vector2(*struct.unpack("<2f", struct.pack("<2f", value.x, value.y)))

    def size(self):
        return len(self.values)

    def resize(self, size):
        self.values = self.values[:size] + [Vector2() for _ in range(max(0, size - len(self.values)))]
        return 0


def check_index(index: int, size: int) -> int:
    if index < 0:
        index += size
    if not 0 <= index < size:
        raise GDScriptError(f"index {index} out of bounds (size {size})")
    return index


class StreamPeerTCP:
    """Godot 4's StreamPeerTCP (core/io/stream_peer_tcp.cpp) over a non-blocking Python socket:
    connect_to_host starts connecting; poll() completes it, and once connected notices a FIN
    (readable with 0 bytes: disconnect, STATUS_NONE) or a socket error (STATUS_ERROR);
    get_partial_data/put_partial_data never block, and a read of 0 bytes disconnects."""

    STATUS_NONE, STATUS_CONNECTING, STATUS_CONNECTED, STATUS_ERROR = 0, 1, 2, 3

    def __init__(self):
        self.sock: socket.socket | None = None
        self.status = self.STATUS_NONE

    def connect_to_host(self, host, port):
        if self.status != self.STATUS_NONE:
            return ERRORS["ERR_ALREADY_IN_USE"]
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        if self.sock.connect_ex((host, port)) not in (0, errno.EINPROGRESS, errno.EAGAIN):
            self.disconnect_from_host()
            return ERRORS["FAILED"]
        self.status = self.STATUS_CONNECTING
        return 0

    def poll(self):
        if self.status == self.STATUS_CONNECTED:
            readable, _, failed = select.select([self.sock], [], [self.sock], 0)
            if failed or self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                self.disconnect_from_host()
                self.status = self.STATUS_ERROR
                return ERRORS["ERR_CONNECTION_ERROR"]
            if readable and self.get_available_bytes() == 0:  # FIN received
                self.disconnect_from_host()
            return 0
        if self.status == self.STATUS_CONNECTING:
            _, writable, _ = select.select([], [self.sock], [], 0)
            if writable:
                if self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    self.disconnect_from_host()
                    self.status = self.STATUS_ERROR
                    return ERRORS["ERR_CONNECTION_ERROR"]
                self.status = self.STATUS_CONNECTED
        return 0

    def get_status(self):
        return self.status

    def set_no_delay(self, enabled):
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if enabled else 0)

    def get_available_bytes(self):
        if self.sock is None:
            return -1
        return struct.unpack("i", fcntl.ioctl(self.sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]

    def get_partial_data(self, count):
        if self.status != self.STATUS_CONNECTED:
            return [ERRORS["FAILED"], PackedByteArray()]
        try:
            data = self.sock.recv(count)
        except BlockingIOError:
            return [0, PackedByteArray()]
        except OSError:
            self.disconnect_from_host()
            return [ERRORS["FAILED"], PackedByteArray()]
        if not data:
            self.disconnect_from_host()
            return [ERRORS["ERR_FILE_EOF"], PackedByteArray()]
        return [0, PackedByteArray(data)]

    def put_partial_data(self, data):
        if self.status != self.STATUS_CONNECTED:
            return [ERRORS["FAILED"], 0]
        try:
            return [0, self.sock.send(bytes(data.data))]
        except BlockingIOError:
            return [0, 0]
        except OSError:
            self.disconnect_from_host()
            return [ERRORS["FAILED"], 0]

    def disconnect_from_host(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.status = self.STATUS_NONE


class Time:
    @staticmethod
    def get_ticks_msec():
        return int(time.monotonic() * 1000)

    @staticmethod
    def get_ticks_usec():
        return int(time.monotonic() * 1_000_000)


ERRORS = {"OK": 0, "FAILED": 1, "ERR_FILE_EOF": 18, "ERR_ALREADY_IN_USE": 22, "ERR_CANT_CONNECT": 25,
          "ERR_CONNECTION_ERROR": 27}  # Godot's Error enum values
TYPES = {
    "TYPE_NIL": 0, "TYPE_BOOL": 1, "TYPE_INT": 2, "TYPE_FLOAT": 3, "TYPE_STRING": 4, "TYPE_VECTOR2": 5,
    "TYPE_STRING_NAME": 21, "TYPE_OBJECT": 24, "TYPE_DICTIONARY": 27, "TYPE_ARRAY": 28,
    "TYPE_PACKED_BYTE_ARRAY": 29, "TYPE_PACKED_FLOAT32_ARRAY": 32, "TYPE_PACKED_VECTOR2_ARRAY": 35,
}
TYPE_NAMES = {
    0: "Nil", 1: "bool", 2: "int", 3: "float", 4: "String", 5: "Vector2", 21: "StringName", 24: "Object",
    27: "Dictionary", 28: "Array", 29: "PackedByteArray", 32: "PackedFloat32Array", 35: "PackedVector2Array",
}


def typeof(value: Any) -> int:
    for python_type, name in ((type(None), "TYPE_NIL"), (bool, "TYPE_BOOL"), (int, "TYPE_INT"), (float, "TYPE_FLOAT"),
                              (str, "TYPE_STRING"), (Vector2, "TYPE_VECTOR2"), (dict, "TYPE_DICTIONARY"),
                              (list, "TYPE_ARRAY"), (PackedByteArray, "TYPE_PACKED_BYTE_ARRAY"),
                              (PackedFloat32Array, "TYPE_PACKED_FLOAT32_ARRAY"),
                              (PackedVector2Array, "TYPE_PACKED_VECTOR2_ARRAY")):
        if type(value) is python_type:
            return TYPES[name]
    return TYPES["TYPE_OBJECT"]


def gd_str(value: Any) -> str:
    if value is None:
        return "<null>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value == int(value) and abs(value) < 1e15:
            return f"{value:.1f}"
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(gd_str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{gd_str(k)}: {gd_str(v)}" for k, v in value.items()) + " }"
    return str(value)


def truthy(value: Any) -> bool:
    if isinstance(value, (PackedByteArray, PackedFloat32Array, PackedVector2Array)):
        return len(value) > 0
    if isinstance(value, (bool, int, float, str, list, dict)) or value is None:
        return bool(value)
    return True  # an Object


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_string(template: str, args: Any) -> str:
    """GDScript's `"..." % args`: %s %d %x %X %f with flags, width and precision, and %%."""
    values = list(args) if isinstance(args, list) else [args]
    out, i, used = [], 0, 0
    while i < len(template):
        if template[i] != "%":
            out.append(template[i])
            i += 1
            continue
        j = i + 1
        while j < len(template) and template[j] in "-+0123456789.":
            j += 1
        if j >= len(template):
            raise GDScriptError("format string ends with %")
        spec, conversion = template[i + 1:j], template[j]
        if conversion == "%":
            out.append("%")
        else:
            if used >= len(values):
                raise GDScriptError("not enough arguments for format string")
            value = values[used]
            used += 1
            if conversion == "s":
                out.append(("%" + spec + "s") % gd_str(value))
            elif conversion in "dxX":
                out.append(("%" + spec + conversion) % int(value))
            elif conversion == "f":
                out.append(("%" + (spec or ".6") + "f") % float(value))
            else:
                raise GDScriptError(f"unsupported format %{conversion}")
        i = j + 1
    if used != len(values):
        raise GDScriptError("not all arguments converted during string formatting")
    return "".join(out)


# --- classes and instances ---------------------------------------------------------------------

class Function:
    def __init__(self, cls: "Class", name: str, params: list, body: list, static: bool, line: int):
        self.cls, self.name, self.params, self.body, self.static, self.line = cls, name, params, body, static, line


class Class:
    """A script (file) or inner class: constants, member declarations, functions, inner classes."""

    def __init__(self, name: str, path: str, outer: "Class | None"):
        self.name, self.path, self.outer = name, path, outer
        self.constants: dict[str, Any] = {}
        self.constant_trees: dict[str, Tree] = {}
        self.members: list[tuple[str, str | None, Tree | None]] = []
        self.functions: dict[str, Function] = {}
        self.inner: dict[str, Class] = {}

    def __repr__(self):
        return f"<GDScript class {self.name}>"


class Instance:
    def __init__(self, cls: Class):
        self.cls = cls
        self.fields: dict[str, Any] = {}

    def __repr__(self):
        return f"<{self.cls.name} instance>"


class Return(Exception):
    def __init__(self, value):
        self.value = value


class Break(Exception):
    pass


class Continue(Exception):
    pass


DEFAULTS: dict[str, Callable[[], Any]] = {
    "int": lambda: 0, "float": lambda: 0.0, "bool": lambda: False, "String": str, "StringName": str,
    "Array": list, "Dictionary": dict, "PackedByteArray": PackedByteArray,
    "PackedFloat32Array": PackedFloat32Array, "PackedVector2Array": PackedVector2Array, "Vector2": Vector2,
}
BINARY_RULES = {"bitw_or", "bitw_xor", "bitw_and", "shift_expr", "arith_expr", "mdr_expr", "pow_expr",
                "asless_bitw_or", "asless_bitw_xor", "asless_bitw_and", "asless_shift_expr",
                "asless_arith_expr", "asless_mdr_expr", "asless_pow_expr"}


class Interpreter:
    """Loads .gd files (their class_name becomes a global) and runs their code."""

    def __init__(self, paths: list[Path]):
        self.globals: dict[str, Any] = {
            "PackedByteArray": PackedByteArray, "PackedFloat32Array": PackedFloat32Array,
            "PackedVector2Array": PackedVector2Array, "Vector2": Vector2, "StreamPeerTCP": StreamPeerTCP,
            "Time": Time, **TYPES, **ERRORS, "PI": math.pi, "INF": math.inf,
        }
        self.errors_pushed: list[str] = []
        for path in paths:
            tree = parser.parse(Path(path).read_text(encoding="utf-8"), gather_metadata=True)
            for subtree in tree.iter_subtrees():
                subtree.data = str(subtree.data)  # lark's Token compares slowly; rule names as plain str
            name = next((str(s.children[0]) for s in tree.children
                         if isinstance(s, Tree) and s.data == "classname_stmt"), Path(path).stem)
            self.globals[name] = self._load_class(name, str(path), tree.children, None)

    # loading
    def _load_class(self, name: str, path: str, statements: list, outer: Class | None) -> Class:
        cls = Class(name, path, outer)
        for statement in statements:
            if not isinstance(statement, Tree):
                continue
            kind = statement.data
            if kind in ("classname_stmt", "extends_stmt", "annotation", "docstr_stmt", "pass_stmt", "signal_stmt"):
                continue
            if kind == "const_stmt":
                const = statement.children[0]
                cls.constant_trees[str(const.children[0])] = const.children[-1]
            elif kind == "enum_stmt" and statement.children[0].data == "enum_named":
                named = statement.children[0]
                cls.constants[str(named.children[0])] = self._enum(named.children[1])
            elif kind == "class_var_stmt":
                var = statement.children[0]
                hint = next((str(c) for c in var.children if isinstance(c, Token) and c.type == "TYPE_HINT"), None)
                value = next((c for c in var.children[1:] if isinstance(c, Tree) and c.data == "expr"), None)
                cls.members.append((str(var.children[0]), hint, value))
            elif kind in ("func_def", "static_func_def"):
                definition = statement if kind == "func_def" else statement.children[0]
                header = definition.children[0]
                params = [self._param(arg) for arg in header.children[1].children if isinstance(arg, Tree)]
                cls.functions[str(header.children[0])] = Function(
                    cls, str(header.children[0]), params, definition.children[1:], kind == "static_func_def",
                    header.meta.line)
            elif kind == "class_def":
                inner_name = str(statement.children[0])
                cls.inner[inner_name] = self._load_class(inner_name, path, statement.children[1:], cls)
            else:
                raise GDScriptError(f"{path}:{statement.meta.line}: {kind} is outside the supported subset")
        return cls

    def _enum(self, body: Tree) -> dict[str, int]:
        values, next_value = {}, 0
        for element in body.children:
            if not isinstance(element, Tree) or element.data != "enum_element":
                continue
            if len(element.children) > 1:
                next_value = self.eval(element.children[1], Frame(self, Class("enum", "", None), None))
            values[str(element.children[0])] = next_value
            next_value += 1
        return values

    @staticmethod
    def _param(arg: Tree) -> tuple[str, str | None, Tree | None]:
        hint = next((str(c) for c in arg.children if isinstance(c, Token) and c.type == "TYPE_HINT"), None)
        default = next((c for c in arg.children[1:] if isinstance(c, Tree)), None)
        return str(arg.children[0]), hint, default

    def constant(self, cls: Class, name: str) -> Any:
        if name not in cls.constants:
            cls.constants[name] = self.eval(cls.constant_trees[name], Frame(self, cls, None))
        return cls.constants[name]

    # calling
    def new(self, cls: Class, args: list) -> Instance:
        instance = Instance(cls)
        frame = Frame(self, cls, instance)
        for name, hint, value in cls.members:
            instance.fields[name] = (convert(self.eval(value, frame), hint) if value is not None
                                     else DEFAULTS.get(hint, lambda: None)())
        if "_init" in cls.functions:
            self.call(cls.functions["_init"], instance, args)
        elif args:
            raise GDScriptError(f"{cls.name}.new() takes no arguments")
        return instance

    def call(self, function: Function, instance: Instance | None, args: list) -> Any:
        if len(args) > len(function.params):
            raise GDScriptError(f"{function.name}() takes {len(function.params)} arguments, got {len(args)}")
        frame = Frame(self, function.cls, None if function.static else instance)
        for i, (name, hint, default) in enumerate(function.params):
            if i < len(args):
                value = args[i]
            elif default is not None:
                value = frame.eval(default)
            else:
                raise GDScriptError(f"{function.cls.path}:{function.line}: {function.name}() missing argument {name}")
            frame.locals[name] = convert(value, hint)
        try:
            frame.run(function.body)
        except Return as result:
            return result.value
        return None

    def call_static(self, class_name: str, function: str, *args: Any) -> Any:
        cls = self.globals[class_name]
        return self.call(cls.functions[function], None, list(args))

    def eval(self, tree: Any, frame: "Frame") -> Any:
        return frame.eval(tree)


def convert(value: Any, hint: str | None) -> Any:
    """Typed variables convert int to float (and float to int) on assignment, as Godot does."""
    if hint == "float" and is_number(value):
        return float(value)
    if hint == "int" and isinstance(value, float):
        return int(value)
    return value


class Frame:
    """One function activation: locals, the class for name lookups, and self."""

    def __init__(self, interpreter: Interpreter, cls: Class, instance: Instance | None):
        self.interpreter, self.cls, self.instance = interpreter, cls, instance
        self.locals: dict[str, Any] = {}
        self.types: dict[str, str | None] = {}

    def fail(self, tree: Any, message: str) -> GDScriptError:
        line = getattr(getattr(tree, "meta", None), "line", None) or getattr(tree, "line", "?")
        return GDScriptError(f"{self.cls.path}:{line}: {message}")

    # statements
    def run(self, statements: list) -> None:
        for statement in statements:
            self.execute(statement)

    def execute(self, statement: Tree) -> None:
        kind = statement.data
        if kind == "expr_stmt":
            self.eval(statement.children[0])
        elif kind == "func_var_stmt":
            var = statement.children[0]
            name = str(var.children[0])
            hint = next((str(c) for c in var.children if isinstance(c, Token) and c.type == "TYPE_HINT"), None)
            value_tree = next((c for c in var.children[1:] if not (isinstance(c, Token) and c.type == "TYPE_HINT")), None)
            self.types[name] = hint
            self.locals[name] = (convert(self.eval(value_tree), hint) if value_tree is not None
                                 else DEFAULTS.get(hint, lambda: None)())
        elif kind == "return_stmt":
            raise Return(self.eval(statement.children[0]) if statement.children else None)
        elif kind == "if_stmt":
            for branch in statement.children:
                if branch.data == "else_branch":
                    self.run(branch.children)
                    return
                if truthy(self.eval(branch.children[0])):
                    self.run(branch.children[1:])
                    return
        elif kind == "while_stmt":
            while truthy(self.eval(statement.children[0])):
                try:
                    self.run(statement.children[1:])
                except Break:
                    break
                except Continue:
                    continue
        elif kind in ("for_stmt", "for_stmt_typed"):
            name = str(statement.children[0])
            body_start = 3 if kind == "for_stmt_typed" else 2
            for item in self.iterate(self.eval(statement.children[body_start - 1]), statement):
                self.locals[name] = item
                try:
                    self.run(statement.children[body_start:])
                except Break:
                    break
                except Continue:
                    continue
        elif kind == "pass_stmt":
            pass
        elif kind == "break_stmt":
            raise Break()
        elif kind == "continue_stmt":
            raise Continue()
        elif kind == "const_stmt":
            const = statement.children[0]
            self.locals[str(const.children[0])] = self.eval(const.children[-1])
        else:
            raise self.fail(statement, f"{kind} is outside the supported subset")

    def iterate(self, value: Any, tree: Tree):
        if isinstance(value, int) and not isinstance(value, bool):
            return range(value)
        if isinstance(value, range):
            return value
        if isinstance(value, list):
            return list(value)
        if isinstance(value, dict):
            return list(value.keys())
        if isinstance(value, PackedByteArray):
            return list(value.data)
        if isinstance(value, (PackedFloat32Array, PackedVector2Array)):
            return list(value.values)
        if isinstance(value, str):
            return list(value)
        raise self.fail(tree, f"cannot iterate over {gd_str(value)}")

    # expressions
    def eval(self, tree: Any) -> Any:
        if isinstance(tree, Token):
            return self.token(tree)
        evaluate = EVALUATORS.get(tree.data)
        if evaluate is None:
            raise self.fail(tree, f"{tree.data} is outside the supported subset")
        return evaluate(self, tree, tree.children)

    def chain(self, tree: Tree, children: list) -> Any:
        value = self.eval(children[0])
        for i in range(1, len(children), 2):
            value = self.binary(str(children[i]), value, self.eval(children[i + 1]), tree)
        return value

    def negate(self, tree: Tree, children: list) -> Any:
        value = self.eval(children[1])
        if not is_number(value):
            raise self.fail(tree, f"cannot negate {gd_str(value)}")
        return wrap_int(-value) if isinstance(value, int) else -value

    def call_getattr(self, tree: Tree, children: list) -> Any:
        target, name = self.split_getattr(children[0])
        return self.call_method(target, name, [self.eval(a) for a in children[1:] if not is_comma(a)], tree)

    def read_getattr(self, tree: Tree, children: list) -> Any:
        target, name = self.split_getattr(tree)
        return self.attribute(target, name, tree)

    def dictionary(self, tree: Tree, children: list) -> dict:
        out = {}
        for element in children:
            if is_comma(element):
                continue
            if element.data == "eq_dict_element":
                out[str(element.children[0])] = self.eval(element.children[1])
            else:
                out[self.eval(element.children[0])] = self.eval(element.children[1])
        return out

    def token(self, token: Token) -> Any:
        text = str(token)
        if token.type == "NUMBER":
            text = text.replace("_", "")
            return float(text) if any(c in text for c in ".eE") else int(text)
        if token.type in ("HEX", "BIN"):
            return int(text.replace("_", ""), 0)
        if token.type == "NAME":
            return self.name(text, token)
        raise self.fail(token, f"unexpected token {text!r}")

    def name(self, text: str, token: Any) -> Any:
        if text in self.locals:
            return self.locals[text]
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if text == "self":
            return self.instance
        if self.instance is not None and text in self.instance.fields:
            return self.instance.fields[text]
        cls = self.cls
        while cls is not None:
            if text in cls.constant_trees or text in cls.constants:
                return self.interpreter.constant(cls, text)
            if text in cls.inner:
                return cls.inner[text]
            cls = cls.outer
        if text in self.interpreter.globals:
            return self.interpreter.globals[text]
        raise self.fail(token, f"identifier {text!r} not declared")

    def split_getattr(self, tree: Tree) -> tuple[Any, str]:
        """`a.b.c` -> (value of a.b, "c")."""
        parts = [c for c in tree.children if not (isinstance(c, Token) and c.type == "DOT")]
        target = self.eval(parts[0])
        for part in parts[1:-1]:
            target = self.attribute(target, str(part), tree)
        return target, str(parts[-1])

    def attribute(self, target: Any, name: str, tree: Any) -> Any:
        if isinstance(target, Instance):
            if name in target.fields:
                return target.fields[name]
            raise self.fail(tree, f"{target.cls.name} has no member {name!r}")
        if isinstance(target, Class):
            if name in target.constant_trees or name in target.constants:
                return self.interpreter.constant(target, name)
            if name in target.inner:
                return target.inner[name]
            raise self.fail(tree, f"{target.name} has no constant or class {name!r}")
        if isinstance(target, Vector2) and name in ("x", "y"):
            return getattr(target, name)
        if isinstance(target, type) and name.isupper():
            return getattr(target, name)
        if isinstance(target, dict) and name in target:
            return target[name]  # Dictionary members by dot, as GDScript allows
        raise self.fail(tree, f"cannot read .{name} of {gd_str(target)}")

    def assign(self, target_tree: Any, op: str, value_tree: Any) -> None:
        value = self.eval(value_tree)
        if isinstance(target_tree, Token):
            name = str(target_tree)
            if op != "=":
                value = self.binary(op[:-1], self.name(name, target_tree), value, target_tree)
            if name in self.locals:
                self.locals[name] = convert(value, self.types.get(name))
            elif self.instance is not None and name in self.instance.fields:
                hint = next((h for n, h, _ in self.instance.cls.members if n == name), None)
                self.instance.fields[name] = convert(value, hint)
            else:
                raise self.fail(target_tree, f"cannot assign to {name!r}")
            return None
        if target_tree.data == "getattr":
            target, name = self.split_getattr(target_tree)
            if op != "=":
                value = self.binary(op[:-1], self.attribute(target, name, target_tree), value, target_tree)
            if isinstance(target, Instance) and name in target.fields:
                hint = next((h for n, h, _ in target.cls.members if n == name), None)
                target.fields[name] = convert(value, hint)
            elif isinstance(target, dict):
                target[name] = value
            else:
                raise self.fail(target_tree, f"cannot assign .{name} of {gd_str(target)}")
            return None
        if target_tree.data == "subscr_expr":
            container = self.eval(target_tree.children[0])
            key = self.eval(target_tree.children[1])
            if op != "=":
                value = self.binary(op[:-1], self.index(container, key, target_tree), value, target_tree)
            if isinstance(container, dict):
                container[key] = value
            elif isinstance(container, list):
                container[check_index(key, len(container))] = value
            elif hasattr(container, "gd_set_index"):
                container.gd_set_index(key, value)
            else:
                raise self.fail(target_tree, f"cannot index-assign {gd_str(container)}")
            return None
        raise self.fail(target_tree, "unsupported assignment target")

    def index(self, container: Any, key: Any, tree: Any) -> Any:
        if isinstance(container, dict):
            if key not in container:
                raise self.fail(tree, f"invalid key {gd_str(key)} in Dictionary")
            return container[key]
        if isinstance(container, list):
            return container[check_index(key, len(container))]
        if isinstance(container, str):
            return container[check_index(key, len(container))]
        if hasattr(container, "gd_index"):
            return container.gd_index(key)
        raise self.fail(tree, f"cannot index {gd_str(container)}")

    def int_operand(self, value: Any, tree: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(tree, f"bitwise operator on {gd_str(value)}")
        return value

    def binary(self, op: str, a: Any, b: Any, tree: Any) -> Any:
        if op == "%" and isinstance(a, str):
            return format_string(a, b)
        if op == "+" and isinstance(a, str) and isinstance(b, str):
            return a + b
        if op == "+" and isinstance(a, list) and isinstance(b, list):
            return a + b
        if op in ("<<", ">>", "&", "|", "^"):
            a, b = self.int_operand(a, tree), self.int_operand(b, tree)
            if op == "<<":
                return wrap_int(a << b)
            if op == ">>":
                return a >> b
            return {"&": a & b, "|": a | b, "^": a ^ b}[op]
        if not (is_number(a) and is_number(b)):
            raise self.fail(tree, f"invalid operands {gd_str(a)} {op} {gd_str(b)}")
        both_int = isinstance(a, int) and isinstance(b, int)
        if op == "+":
            return wrap_int(a + b) if both_int else a + b
        if op == "-":
            return wrap_int(a - b) if both_int else a - b
        if op == "*":
            return wrap_int(a * b) if both_int else a * b
        if op == "/":
            if both_int:
                if b == 0:
                    raise self.fail(tree, "division by zero in operator '/'")
                quotient = abs(a) // abs(b)
                return quotient if (a >= 0) == (b >= 0) else -quotient
            return a / b if b != 0 else math.copysign(math.inf, a) if a else math.nan
        if op == "%":
            if both_int:
                if b == 0:
                    raise self.fail(tree, "division by zero in operator '%'")
                return int(math.fmod(a, b)) if abs(a) < 2**52 else a - b * int(a / b)
            raise self.fail(tree, "operator % on floats: use fmod()")
        if op == "**":
            return wrap_int(a ** b) if both_int and b >= 0 else float(a) ** b
        raise self.fail(tree, f"operator {op} is outside the supported subset")

    def compare(self, op: str, a: Any, b: Any, tree: Any) -> bool:
        if op in ("==", "!="):
            if a is None or b is None:
                equal = a is b
            elif (is_number(a) and is_number(b)) or type(a) is type(b):
                equal = a == b
            else:
                raise self.fail(tree, f"invalid operands {gd_str(a)} {op} {gd_str(b)}")
            return equal if op == "==" else not equal
        if not ((is_number(a) and is_number(b)) or (isinstance(a, str) and isinstance(b, str))):
            raise self.fail(tree, f"invalid operands {gd_str(a)} {op} {gd_str(b)}")
        return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]

    def contains(self, children: list, tree: Tree) -> bool:
        value = self.eval(children[0])
        for i in range(1, len(children), 2):
            negate = isinstance(children[i], Tree)  # not_in_op
            container = self.eval(children[i + 1])
            if isinstance(container, dict):
                found = value in container
            elif isinstance(container, (list, str)):
                found = value in container
            elif isinstance(container, PackedByteArray):
                found = value in container.data
            else:
                raise self.fail(tree, f"operator in on {gd_str(container)}")
            value = found != negate
        return value

    def type_test(self, value: Any, op: str, type_name: str, tree: Any) -> bool:
        if type_name in DEFAULTS:
            result = typeof(value) == typeof(DEFAULTS[type_name]())
        else:
            cls = self.name(type_name, tree)
            result = isinstance(value, Instance) and value.cls is cls
        return result if op == "is" else not result

    # calls
    def call_name(self, name: str, args: list, tree: Any) -> Any:
        cls = self.cls
        while cls is not None:
            if name in cls.functions:
                function = cls.functions[name]
                if not function.static and self.instance is None:
                    raise self.fail(tree, f"cannot call non-static {name}() from a static function")
                return self.interpreter.call(function, self.instance, args)
            cls = cls.outer
        builtin = BUILTINS.get(name)
        if builtin is not None:
            return builtin(self, args, tree)
        target = self.interpreter.globals.get(name)
        if isinstance(target, type):
            return target(*args)
        raise self.fail(tree, f"function {name}() not found")

    def call_method(self, target: Any, name: str, args: list, tree: Any) -> Any:
        if isinstance(target, Class):
            if name == "new":
                return self.interpreter.new(target, args)
            function = target.functions.get(name)
            if function is None or not function.static:
                raise self.fail(tree, f"{target.name} has no static function {name}()")
            return self.interpreter.call(function, None, args)
        if isinstance(target, Instance):
            function = target.cls.functions.get(name)
            if function is None:
                raise self.fail(tree, f"{target.cls.name} has no function {name}()")
            return self.interpreter.call(function, target, args)
        if isinstance(target, type) and name == "new":
            return target(*args)
        if isinstance(target, str):
            return string_method(self, target, name, args, tree)
        if isinstance(target, list):
            return array_method(self, target, name, args, tree)
        if isinstance(target, dict):
            return dictionary_method(self, target, name, args, tree)
        method = getattr(target, name, None)
        if method is None or name.startswith("_") or not callable(method):
            raise self.fail(tree, f"{gd_str(target)} has no method {name}()")
        return method(*args)


EVALUATORS: dict[str, Callable[[Frame, Tree, list], Any]] = {
    "expr": lambda f, t, c: f.eval(c[0]),
    "par_expr": lambda f, t, c: f.eval(c[0]),
    "assnmnt_expr": lambda f, t, c: f.assign(c[0], str(c[1]), c[2]),
    **{rule: Frame.chain for rule in BINARY_RULES},
    "comparison": lambda f, t, c: f.compare(str(c[1]), f.eval(c[0]), f.eval(c[2]), t),
    "asless_comparison": lambda f, t, c: f.compare(str(c[1]), f.eval(c[0]), f.eval(c[2]), t),
    "or_test": lambda f, t, c: any(truthy(f.eval(x)) for x in c[::2]),
    "asless_or_test": lambda f, t, c: any(truthy(f.eval(x)) for x in c[::2]),
    "and_test": lambda f, t, c: all(truthy(f.eval(x)) for x in c[::2]),
    "asless_and_test": lambda f, t, c: all(truthy(f.eval(x)) for x in c[::2]),
    "asless_actual_not_test": lambda f, t, c: not truthy(f.eval(c[1])),
    "content_test": lambda f, t, c: f.contains(c, t),
    "asless_content_test": lambda f, t, c: f.contains(c, t),
    "test_expr": lambda f, t, c: f.eval(c[0]) if truthy(f.eval(c[2])) else f.eval(c[4]),
    "asless_test_expr": lambda f, t, c: f.eval(c[0]) if truthy(f.eval(c[2])) else f.eval(c[4]),
    "asless_actual_neg_expr": Frame.negate,
    "asless_actual_bitw_not": lambda f, t, c: ~f.int_operand(f.eval(c[1]), t),
    "actual_type_cast": lambda f, t, c: f.eval(c[0]),
    "type_test": lambda f, t, c: f.type_test(f.eval(c[0]), str(c[1]), str(c[2]), t),
    "asless_type_test": lambda f, t, c: f.type_test(f.eval(c[0]), str(c[1]), str(c[2]), t),
    "standalone_call": lambda f, t, c: f.call_name(str(c[0]), [f.eval(a) for a in c[1:] if not is_comma(a)], t),
    "getattr_call": Frame.call_getattr,
    "getattr": Frame.read_getattr,
    "subscr_expr": lambda f, t, c: f.index(f.eval(c[0]), f.eval(c[1]), t),
    "array": lambda f, t, c: [f.eval(x) for x in c if not is_comma(x)],
    "dict": Frame.dictionary,
    "string": lambda f, t, c: parse_string(str(c[0])),
}


def is_comma(node: Any) -> bool:
    return isinstance(node, Tree) and node.data == "trailing_comma"


def parse_string(literal: str) -> str:
    quote = literal[:3] if literal[:3] in ('"""', "'''") else literal[0]
    body = literal[len(quote):-len(quote)]
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}
    out, i = [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            if body[i + 1] == "u":
                out.append(chr(int(body[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append(escapes.get(body[i + 1], "\\" + body[i + 1]))
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def builtin_range(frame: Frame, args: list, tree: Any) -> range:
    return range(*args)


def builtin_int(frame: Frame, args: list, tree: Any) -> int:
    value = args[0]
    if isinstance(value, str):
        digits = value.strip()
        return int(digits) if digits.lstrip("-").isdigit() else 0
    return int(value)


def builtin_push_error(frame: Frame, args: list, tree: Any) -> None:
    frame.interpreter.errors_pushed.append("".join(gd_str(a) for a in args))


BUILTINS: dict[str, Callable[[Frame, list, Any], Any]] = {
    "range": builtin_range,
    "len": lambda f, a, t: len(a[0]),
    "typeof": lambda f, a, t: typeof(a[0]),
    "type_string": lambda f, a, t: TYPE_NAMES.get(a[0], "Object"),
    "str": lambda f, a, t: "".join(gd_str(v) for v in a),
    "int": builtin_int,
    "float": lambda f, a, t: float(a[0]),
    "bool": lambda f, a, t: truthy(a[0]),
    "abs": lambda f, a, t: abs(a[0]),
    "absi": lambda f, a, t: abs(a[0]),
    "mini": lambda f, a, t: min(a),
    "maxi": lambda f, a, t: max(a),
    "min": lambda f, a, t: min(a),
    "max": lambda f, a, t: max(a),
    "clampi": lambda f, a, t: max(a[1], min(a[2], a[0])),
    "clampf": lambda f, a, t: max(a[1], min(a[2], a[0])),
    "is_finite": lambda f, a, t: math.isfinite(a[0]),
    "push_error": builtin_push_error,
    "push_warning": builtin_push_error,
}


def string_method(frame: Frame, text: str, name: str, args: list, tree: Any) -> Any:
    if name == "to_utf8_buffer":
        return PackedByteArray(text.encode("utf-8"))
    if name == "to_ascii_buffer":
        return PackedByteArray(text.encode("ascii", errors="replace"))
    if name == "length":
        return len(text)
    if name == "is_empty":
        return not text
    if name == "begins_with":
        return text.startswith(args[0])
    if name == "ends_with":
        return text.endswith(args[0])
    if name == "find":
        return text.find(args[0], *args[1:])
    if name == "rfind":
        return text.rfind(args[0])
    if name == "substr":
        return text[args[0]:] if len(args) == 1 or args[1] < 0 else text[args[0]:args[0] + args[1]]
    if name == "is_valid_int":
        return text.strip().lstrip("+-").isdigit()
    if name == "to_int":
        return builtin_int(frame, [text], tree)
    raise frame.fail(tree, f"String has no method {name}() in the supported subset")


def array_method(frame: Frame, items: list, name: str, args: list, tree: Any) -> Any:
    if name in ("append", "push_back"):
        items.append(args[0])
        return None
    if name == "append_array":
        items.extend(args[0])
        return None
    if name == "size":
        return len(items)
    if name == "is_empty":
        return not items
    if name == "clear":
        items.clear()
        return None
    if name == "pop_front":
        return items.pop(0) if items else None
    if name == "pop_back":
        return items.pop() if items else None
    if name == "front":
        return items[0] if items else None
    if name == "back":
        return items[-1] if items else None
    if name == "has":
        return args[0] in items
    if name == "remove_at":
        del items[check_index(args[0], len(items))]
        return None
    if name == "insert":
        items.insert(args[0], args[1])
        return 0
    if name == "duplicate":
        return list(items)
    raise frame.fail(tree, f"Array has no method {name}() in the supported subset")


def dictionary_method(frame: Frame, entries: dict, name: str, args: list, tree: Any) -> Any:
    if name == "has":
        return args[0] in entries
    if name == "get":
        return entries.get(args[0], args[1] if len(args) > 1 else None)
    if name == "keys":
        return list(entries.keys())
    if name == "values":
        return list(entries.values())
    if name == "erase":
        return entries.pop(args[0], _MISSING) is not _MISSING
    if name == "size":
        return len(entries)
    if name == "is_empty":
        return not entries
    if name == "duplicate":
        return dict(entries)
    if name == "merge":
        for key, value in args[0].items():
            if len(args) > 1 and args[1] or key not in entries:
                entries[key] = value
        return None
    if name == "clear":
        entries.clear()
        return None
    raise frame.fail(tree, f"Dictionary has no method {name}() in the supported subset")


_MISSING = object()
