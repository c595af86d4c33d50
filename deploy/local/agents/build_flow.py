# Builds a launch agent's Langflow flow export (ChatInput -> component -> ChatOutput)
# from its readable component.py, with Langflow's own template builder, so the
# node templates match the installed Langflow exactly. Run by build.ts with the
# Langflow venv's Python:  python build_flow.py <agent-dir>
# Writes the flow JSON to stdout.
import inspect
import json
import pathlib
import sys

from lfx.components.input_output import chat, chat_output
from lfx.custom.custom_component.component import Component
from lfx.custom.utils import build_custom_component_template

# Messages are not stored in Langflow's history: CMP records runs itself, and
# skipping the write keeps the run path short.
NO_HISTORY = {"should_store_message": False}


def node(node_id, code, class_name, module_name, values):
    template, _ = build_custom_component_template(Component(_code=code), module_name=module_name, class_name=class_name)
    for field, value in values.items():
        template["template"][field]["value"] = value
    # Machine-specific details would make the export differ between builds.
    template.get("metadata", {}).pop("dependencies", None)
    kind = class_name
    return {
        "id": node_id,
        "type": "genericNode",
        "position": {"x": 0, "y": 0},
        "data": {
            "id": node_id,
            "type": kind,
            "node": template,
            "display_name": template.get("display_name", kind),
            "description": template.get("description", ""),
            "selected_output": template["outputs"][0]["name"],
        },
    }


def handle(d):
    # Langflow's handle string: JSON with the double quote replaced by 'œ'.
    return json.dumps(d, separators=(",", ":")).replace('"', "œ")


def edge(source, target, field):
    src_node = source["data"]["node"]
    output = src_node["outputs"][0]
    tgt_field = target["data"]["node"]["template"][field]
    source_handle = {
        "dataType": source["data"]["type"],
        "id": source["id"],
        "name": output["name"],
        "output_types": output["types"],
    }
    target_handle = {
        "fieldName": field,
        "id": target["id"],
        "inputTypes": tgt_field.get("input_types", ["Message"]),
        "type": tgt_field.get("type", "str"),
    }
    sh, th = handle(source_handle), handle(target_handle)
    return {
        "id": f"xy-edge__{source['id']}{sh}-{target['id']}{th}",
        "source": source["id"],
        "target": target["id"],
        "sourceHandle": sh,
        "targetHandle": th,
        "data": {"sourceHandle": source_handle, "targetHandle": target_handle},
    }


def build(agent_dir):
    agent = json.loads((agent_dir / "agent.json").read_text())
    component = agent["component"]
    code = (agent_dir / component["file"]).read_text()
    values = {}
    for field, file_name in component.get("bundledFields", {}).items():
        values[field] = (agent_dir / file_name).read_text()

    chat_in = node("ChatInput-cmp01", inspect.getsource(chat), "ChatInput", "lfx.components.input_output.chat.ChatInput", NO_HISTORY)
    chat_in["data"]["node"]["template"]["input_value"]["value"] = ""
    core = node(f"{component['className']}-cmp01", code, component["className"], None, values)
    chat_out = node(
        "ChatOutput-cmp01", inspect.getsource(chat_output), "ChatOutput", "lfx.components.input_output.chat_output.ChatOutput", NO_HISTORY
    )
    for i, n in enumerate((chat_in, core, chat_out)):
        n["position"] = {"x": 100 + 420 * i, "y": 200}
    return {
        "name": agent["name"],
        "description": agent["summary"],
        "endpoint_name": agent["slug"],
        "is_component": False,
        "data": {
            "nodes": [chat_in, core, chat_out],
            "edges": [edge(chat_in, core, component["inputField"]), edge(core, chat_out, "input_value")],
            "viewport": {"x": 0, "y": 0, "zoom": 1},
        },
    }


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        agent_dir = pathlib.Path(arg)
        flow = build(agent_dir)
        (agent_dir / "flow.json").write_text(json.dumps(flow, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {agent_dir / 'flow.json'}")
