"""Write a preset: params.yaml with some values replaced, comments kept.

    python workflow/scripts/make_preset.py configs/cifar10.yaml data.dataset=cifar10 teacher.arch=resnet50 ...

Values are YAML (`bits=[12,24]`, `data.root=null`). Used to (re)generate configs/*.yaml
from params.yaml whenever a key is added, so every preset stays a complete params file.
"""
import re
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from dth.params import validate  # noqa: E402

out, *assignments = sys.argv[1:]
lines = Path("params.yaml").read_text().splitlines()
# params.yaml's header paragraph about the default run ("This default is ...") is not true of a preset
start = next((i for i, line in enumerate(lines) if line.startswith("# This default is")), None)
if start is not None:
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("# ") or lines[i].startswith("# Presets"))
    del lines[start:end]
header = [f"# Preset written by workflow/scripts/make_preset.py from params.yaml: {' '.join(assignments)}"]
for item in assignments:
    key, value = item.split("=", 1)
    *section, name = key.split(".")
    current = None
    for i, line in enumerate(lines):
        top = re.match(r"^(\w+):", line)
        if top:
            current = top.group(1)
        m = re.match(rf"^(\s*){re.escape(name)}:(\s*)(.*?)(\s+#.*)?$", line)
        indent_ok = (m and ((section and m.group(1) and current == section[0]) or (not section and not m.group(1))))
        if indent_ok:
            text = yaml.safe_dump(yaml.safe_load(value), default_flow_style=True).strip().removesuffix("...").strip()
            comment = m.group(4) or ""
            column = m.start(4) if comment else 0  # keep the comment where it was
            lines[i] = f"{m.group(1)}{name}: {text}".ljust(column) + comment
            break
    else:
        sys.exit(f"no key {key} in params.yaml")
text = "\n".join(header + lines) + "\n"
validate(yaml.safe_load(text), source=out)
Path(out).write_text(text)
print(f"wrote {out}")
