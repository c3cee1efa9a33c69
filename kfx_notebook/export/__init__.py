"""Notebook binding cells -> a FunctionApp model -> one Functions project per language.

Stages: `notebook` reads the .ipynb into the model (`model`: the functions, the setup commands,
the problems), one writer per language (`python`, `javascript`, `csharp`, `java`, each with the
one `literal` through which notebook-derived values enter its code) turns the model into file
texts, `project` adds the shared files (and `setup.kql`) and writes them safely. Importing this
package loads nothing heavy.
"""
