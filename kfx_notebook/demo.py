"""`kfx-notebook demo`: the journey, headless, on the embedded database.

Builds the sample Products database, runs a parameterized input binding against it and
prints each step with its timing. Grows with the product: later steps (output binding,
export, invoke) are added here as they land.
"""

from __future__ import annotations

import argparse
import time

SAMPLE = [
    ".create-merge table Products (ProductID:long, Name:string, Cost:real)",
    ".set-or-replace Products <| datatable(ProductID:long, Name:string, Cost:real) "
    "[1, 'Apple', 1.25, 2, 'Pear', 0.8, 3, 'Fig', 2.5, 4, 'Kiwi', 0.6]",
    ".create-or-alter function with (docstring='Products with this name') "
    "GetProductsByName(name:string) { Products | where Name == name }",
]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="./kfx-demo-app", help="where to export the function app "
                        "(default: ./kfx-demo-app)")
    parser.add_argument("--database", default="ProductsDB", help="sample database name (default: ProductsDB)")


def run(args: argparse.Namespace) -> int:
    from .backends.local import LocalBackend

    backend = LocalBackend.open(None)
    step(f"sample database {args.database!r} (embedded, in memory)",
         lambda: [backend.query(args.database, command) for command in SAMPLE] if
         backend.catalog.ensure_database(args.database) is None else None)
    result = step("input binding: @productId=2",
                  lambda: backend.query(args.database, "declare query_parameters(productId:long); "
                                        "Products | where ProductID == productId", {"productId": "2"}))
    print(result.frame.to_string(index=False))
    result = step("stored function: GetProductsByName(@name='Fig')",
                  lambda: backend.query(args.database, "declare query_parameters(name:string); "
                                        "GetProductsByName(name)", {"name": "Fig"}))
    print(result.frame.to_string(index=False))
    return 0


def step(label: str, action):
    started = time.perf_counter()
    value = action()
    print(f"[{time.perf_counter() - started:7.3f} s] {label}")
    return value
