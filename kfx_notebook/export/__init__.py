"""Notebook binding cells -> a FunctionApp model -> one Functions project per language.

Stages: `notebook` reads the .ipynb into the model (`model`), one writer per language
(`python`, `javascript`, `csharp`, `java`) turns the model into file texts, `project` adds
the shared files and writes them safely. Importing this package loads nothing heavy.
"""
