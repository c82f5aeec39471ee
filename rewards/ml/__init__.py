"""Per-aspect reward models for ad images and the calibrated launch gate (no Django here).

Modules: `aspects` (registry of aspects and hard rules), `model` (the small CNN and its
safetensors artifact), `labels` (combining annotators), `train` (training loop and the fixed
held-out split), `metrics`, `images` (shared preprocessing), `ensemble` (scoring files),
`gate` (launch / review / reject with Learn-then-Test calibration).
"""
