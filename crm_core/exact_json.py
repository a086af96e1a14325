"""JSON text that gives back exactly what was written: the payload format of the stored results
(:mod:`crm_core.stored_results`).

Plain JSON loses types: a date comes back as text, a tuple as a list, a Decimal as a float, NaN is not JSON at all,
and a DataFrame has no JSON form that keeps its dtypes. :func:`dumps` writes every such value as a small tagged
object (``{"$date": "2024-05-01"}``) and :func:`loads` turns it back, so that ``loads(dumps(x)) == x`` for:

- None, bool, int, str, float (NaN and the infinities included, every float exactly: JSON floats are written by
  ``repr``, which round-trips);
- ``datetime.date``, ``datetime.datetime`` (naive or with a fixed offset), ``datetime.timedelta``, ``Decimal``;
- numpy scalars (as the Python number) and arrays (dtype and shape kept);
- lists, tuples, dicts in their order (with text keys as objects, with other keys as pairs);
- pandas Series and DataFrames: index, column names, dtypes and values, NaN/None/NaT included;
- dataclasses and other instances of classes defined in ``crm_core`` (as the class name and the instance's fields).
  Only ``crm_core`` classes are rebuilt, so a payload cannot make :func:`loads` import or call anything else.

Text, never pickle: the payload can be read in any engine's console, and reading it runs no code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import json
import math
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

#: The only package whose classes :func:`loads` rebuilds.
_OWN_PACKAGE = "crm_core"
_TAG = "$"


def dumps(value: Any) -> str:
    """``value`` as JSON text that :func:`loads` turns back into an equal value (see the module's list of types).

    Raises
    ------
    TypeError
        For a value of another type (a class from outside ``crm_core``, a set, a callable...).
    """
    return json.dumps(_encode(value), allow_nan=False, separators=(",", ":"))


def loads(text: str) -> Any:
    """The value :func:`dumps` wrote."""
    return _decode(json.loads(text))


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if value is pd.NA:
        return None
    if value is pd.NaT:
        return {"$nat": None}
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else {"$float": repr(number)}
    if isinstance(value, pd.DataFrame):
        return {
            "$frame": {
                "columns": _series_data(value.columns),
                "index": _series_data(value.index),
                "data": [_series_data(value.iloc[:, i]) for i in range(value.shape[1])],
            }
        }
    if isinstance(value, pd.Series):
        return {
            "$series": {"name": _encode(value.name), "index": _series_data(value.index), "data": _series_data(value)}
        }
    if isinstance(value, pd.Timestamp):
        return {"$timestamp": value.isoformat()}
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"$timedelta": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, np.ndarray):
        return {
            "$array": {
                "dtype": value.dtype.str,
                "shape": list(value.shape),
                "values": [_encode(v) for v in value.ravel().tolist()],
            }
        }
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith(_TAG) for k in value):
            return {k: _encode(v) for k, v in value.items()}
        return {"$pairs": [[_encode(k), _encode(v)] for k, v in value.items()]}
    cls = type(value)
    if cls.__module__.split(".")[0] == _OWN_PACKAGE:
        if dataclasses.is_dataclass(value):
            state = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        else:
            state = dict(vars(value))
        return {"$object": f"{cls.__module__}:{cls.__qualname__}", "state": _encode(state)}
    raise TypeError(f"{cls.__module__}.{cls.__qualname__} cannot be stored as exact JSON")


def _series_data(values: pd.Series | pd.Index) -> dict[str, Any]:
    """One column (or an index): its dtype and its cells, so that the dtype is rebuilt and not guessed."""
    if isinstance(values, pd.RangeIndex):
        return {"range": [values.start, values.stop, values.step], "name": _encode(values.name)}
    if isinstance(values, pd.MultiIndex):
        raise TypeError("a MultiIndex cannot be stored as exact JSON")
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        categorical = pd.Categorical(values)
        return {
            "dtype": "category",
            "name": _encode(values.name),
            "ordered": bool(dtype.ordered),
            "categories": _series_data(pd.Index(dtype.categories)),
            "codes": categorical.codes.tolist(),
        }
    if dtype.kind in "mM":  # datetimes and durations as integers of their unit, NaT as None
        as_int = pd.Series(values).array.asi8
        missing = pd.isna(values)
        cells: list[Any] = [None if gone else int(v) for v, gone in zip(as_int, missing, strict=True)]
        return {"dtype": str(dtype), "name": _encode(values.name), "values": cells}
    return {"dtype": str(dtype), "name": _encode(values.name), "values": [_encode(v) for v in values.tolist()]}


def _decode_series_data(data: dict[str, Any]) -> tuple[Any, Any]:
    """The values (an array or list) and the name of one encoded column or index."""
    name = _decode(data["name"])
    if "range" in data:
        return pd.RangeIndex(*data["range"]), name
    dtype = data["dtype"]
    if dtype == "category":
        categories, _ = _decode_series_data(data["categories"])
        cat = pd.Categorical.from_codes(data["codes"], categories=categories, ordered=data["ordered"])
        return cat, name
    if dtype.startswith(("datetime64", "timedelta64")):
        # NaT is the smallest int64 in every unit.
        ints = np.array([v if v is not None else np.iinfo("int64").min for v in data["values"]], dtype="int64")
        if "," not in dtype:
            return ints.view(dtype), name
        # "datetime64[us, Europe/Berlin]": the UTC instants in the unit, then the zone.
        unit, zone = (part.strip() for part in dtype[dtype.index("[") + 1 : -1].split(",", 1))
        return pd.DatetimeIndex(ints.view(f"datetime64[{unit}]")).tz_localize("UTC").tz_convert(zone), name
    values = [_decode(v) for v in data["values"]]
    if dtype == "object":
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array, name
    return pd.array(values, dtype=dtype) if _is_extension(dtype) else np.array(values, dtype=dtype), name


def _is_extension(dtype: str) -> bool:
    """A pandas extension dtype (``Int64``, ``Float64``, ``boolean``, ``string``, ``str``), built with pd.array;
    numpy's (``int64``, ``float64``, ``bool``) with np.array."""
    return dtype[:1].isupper() or dtype in ("boolean", "str") or dtype.startswith("string")


def _decode_index(data: dict[str, Any]) -> pd.Index:
    values, name = _decode_series_data(data)
    if isinstance(values, pd.RangeIndex):
        return values.rename(name)
    return pd.Index(values, name=name, dtype=getattr(values, "dtype", None), tupleize_cols=False)


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = next((k for k in value if k.startswith(_TAG)), None)
    if tag is None:
        return {k: _decode(v) for k, v in value.items()}
    body = value[tag]
    if tag == "$float":
        return float(body)
    if tag == "$date":
        return dt.date.fromisoformat(body)
    if tag == "$datetime":
        return dt.datetime.fromisoformat(body)
    if tag == "$timestamp":
        return pd.Timestamp(body)
    if tag == "$nat":
        return pd.NaT
    if tag == "$timedelta":
        return dt.timedelta(days=body[0], seconds=body[1], microseconds=body[2])
    if tag == "$decimal":
        return Decimal(body)
    if tag == "$tuple":
        return tuple(_decode(v) for v in body)
    if tag == "$pairs":
        return {_decode(k): _decode(v) for k, v in body}
    if tag == "$array":
        return np.array([_decode(v) for v in body["values"]], dtype=np.dtype(body["dtype"])).reshape(body["shape"])
    if tag == "$series":
        values, name = _decode_series_data(body["data"])
        return pd.Series(values, index=_decode_index(body["index"]), name=_decode(body["name"]), copy=False)
    if tag == "$frame":
        index = _decode_index(body["index"])
        columns = _decode_index(body["columns"])
        series = [_decode_series_data(data)[0] for data in body["data"]]
        frame = pd.DataFrame(dict(enumerate(series)), index=index) if series else pd.DataFrame(index=index)
        frame.columns = columns
        return frame
    if tag == "$object":
        return _rebuild(body, _decode(value["state"]))
    raise ValueError(f"unknown tag {tag} in stored JSON")


def _rebuild(name: str, state: dict[str, Any]) -> Any:
    module_name, _, qualname = name.partition(":")
    if module_name.split(".")[0] != _OWN_PACKAGE:
        raise ValueError(f"stored JSON names {name}, which is not a class of {_OWN_PACKAGE}")
    cls: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        cls = getattr(cls, part)
    if not isinstance(cls, type):
        raise ValueError(f"stored JSON names {name}, which is not a class")
    instance: Any = object.__new__(cls)
    # Frozen dataclasses refuse setattr; the instance is built field by field as __init__ would, without running
    # its checks (the values were checked when the object was first made).
    for key, item in state.items():
        object.__setattr__(instance, key, item)
    return instance
