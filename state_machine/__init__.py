"""The provisioner's one state machine.

- `definition.py` authors it with the `stepfunctions` SDK (the only module that imports the SDK).
- `post_render.py` adds, in one documented step, the ASL fields the SDK does not know.
- `render.py` produces the final Amazon States Language: `python -m state_machine.render`
  writes `provisioner.asl.json`, which is committed.
- `asl.py` reads the committed JSON and substitutes the Lambda ARNs; deploy uses it.

Importing this package (or `asl`, `post_render`) never imports the SDK: the SDK imports
sagemaker v2, which logs notices and installs a process-wide traceback handler.
"""
