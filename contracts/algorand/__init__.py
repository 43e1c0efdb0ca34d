"""The project's Algorand contracts (Algorand Python, compiled by puyapy: see build.py).

A package so that puyapy can name its modules (algorand.arc200, ...) without a warning.
"""
