"""The deploy rehearsal's AWS: moto's server on localhost, patched where moto 5.2 cannot take a
CDK app, run as `python -m relaykit.rehearsal_aws` in a process of its own (never imported by the
app or the tests' own moto). It prints its endpoint, then serves until its stdin closes.

Each patch wraps the one moto function at fault and says why; none changes a template.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
from typing import IO, Any
from urllib.parse import urlsplit

import httpx

# moto needs this host name to find a template in its own S3 (a template URL naming localhost).
HOST = "localhost"
# What reads of a resource moto does not create return (ARN-shaped for ARNs: IAM checks them).
PLACEHOLDER = "not-created-by-moto-{logical_id}"
ARN_PLACEHOLDER = "arn:aws:rehearsal:{region}:{account}:not-created-by-moto/{logical_id}"


def _serve(stdin: IO[str]) -> None:
    """Patch moto, serve it on localhost, print the endpoint, stop at the end of `stdin`."""
    from moto.core.config import default_user_config

    from relaykit.local_aws import LocalAws

    # No Docker: Lambda functions are created and described, never run.
    default_user_config["lambda"]["use_docker"] = False
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    _patch_kms_key_tags()
    _patch_unmodelled_attributes()
    _patch_lambda_layers_on_update()
    _patch_custom_resource_invocation(events)
    with LocalAws(host=HOST) as aws:
        threading.Thread(
            target=_answer_custom_resources,
            args=(aws.endpoint_url, events),
            name="custom-resources",
            daemon=True,
        ).start()
        print(aws.endpoint_url, flush=True)
        stdin.read()


def _patch_kms_key_tags() -> None:
    """moto 5.2's `Key.create_from_cloudformation_json` passes CloudFormation's tags
    (`Key`/`Value`) to `create_key`, whose tagger wants the KMS API's `TagKey`/`TagValue`
    (KeyError 'TagKey'). Translate them, as CloudFormation does."""
    from moto.kms.models import Key

    create = Key.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_with_kms_tags(
        cls: type, /, resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any
    ) -> Any:
        properties = dict(cloudformation_json["Properties"])
        properties["Tags"] = [
            {"TagKey": t["Key"], "TagValue": t["Value"]} for t in properties.get("Tags", [])
        ]
        json_with_kms_tags = {**cloudformation_json, "Properties": properties}
        return create(cls, resource_name, json_with_kms_tags, *args, **kwargs)

    Key.create_from_cloudformation_json = classmethod(create_with_kms_tags)  # type: ignore[assignment]


def _patch_unmodelled_attributes() -> None:
    """moto skips resource types it does not model, then crashes on an output reading one of
    their attributes (`ResourceMap.validate_outputs`: None has no `has_cfn_attr`), rejects any
    other attribute read ("Fn::GetAtt references undefined resource") and reads their `Ref` as
    None. Such reads get `PLACEHOLDER`, naming what was read; the template tests check the real
    values."""
    from moto.cloudformation import parsing

    clean_json = parsing.clean_json
    validate_outputs = parsing.ResourceMap.validate_outputs

    def unmodelled(logical_id: Any, attribute: str, resources: Any) -> str | None:
        # clean_json is also called with plain dicts (parameters, Fn::Sub variables).
        declared_resources = getattr(resources, "_resource_json_map", None) or {}
        declared = declared_resources.get(logical_id) if isinstance(logical_id, str) else None
        if declared is None or parsing.resource_class_from_type(declared["Type"]) is not None:
            return None
        if attribute.endswith("Arn"):
            return ARN_PLACEHOLDER.format(
                region=resources._region_name,
                account=resources._account_id,
                logical_id=f"{logical_id}.{attribute}",
            )
        suffix = "" if attribute == "Ref" else f".{attribute}"
        return PLACEHOLDER.format(logical_id=f"{logical_id}{suffix}")

    def read(value: Any, resources: Any) -> str | None:
        if not isinstance(value, dict):
            return None
        if "Ref" in value:
            return unmodelled(value["Ref"], "Ref", resources)
        if "Fn::GetAtt" in value:
            get_att = value["Fn::GetAtt"]
            logical_id, attribute = get_att.split(".", 1) if isinstance(get_att, str) else get_att
            return unmodelled(logical_id, attribute, resources)
        return None

    def clean_json_reading_placeholders(resource_json: Any, resources_map: Any) -> Any:
        placeholder = read(resource_json, resources_map)
        return clean_json(resource_json, resources_map) if placeholder is None else placeholder

    def validate_modelled_outputs(self: Any) -> None:
        template = self._template
        outputs = template.get("Outputs") or {}
        modelled = {k: v for k, v in outputs.items() if read(v.get("Value"), self) is None}
        self._template = {**template, "Outputs": modelled}
        try:
            validate_outputs(self)
        finally:
            self._template = template

    parsing.clean_json = clean_json_reading_placeholders
    parsing.ResourceMap.validate_outputs = validate_modelled_outputs  # type: ignore[method-assign]


def _patch_lambda_layers_on_update() -> None:
    """moto's CloudFormation ignores a function's `Layers` when it creates the function but
    checks them on update against the layers moto itself published, so an update fails on the
    Lambda Web Adapter's layer (AWS publishes it from its own account). Updates ignore them too,
    as creates do."""
    from moto.awslambda.models import LambdaFunction

    update = LambdaFunction.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def update_without_layers(
        cls: type, /, original_resource: Any, cloudformation_json: Any, **kwargs: Any
    ) -> Any:
        properties = {k: v for k, v in cloudformation_json["Properties"].items() if k != "Layers"}
        json_without_layers = {**cloudformation_json, "Properties": properties}
        return update(
            cls,
            original_resource=original_resource,
            cloudformation_json=json_without_layers,
            **kwargs,
        )

    LambdaFunction.update_from_cloudformation_json = classmethod(update_without_layers)  # type: ignore[assignment]


def _patch_custom_resource_invocation(events: queue.Queue[dict[str, Any]]) -> None:
    """moto hands a custom resource's event to its function (`LambdaFunction.invoke`, in a
    thread), which only Docker could run. Events that carry a CloudFormation ResponseURL go to
    the rehearsal's answering thread instead; any other invocation is moto's own."""
    from moto.awslambda.models import LambdaFunction

    invoke = LambdaFunction.invoke

    def invoke_or_answer(self: Any, body: str, request_headers: Any, response_headers: Any) -> Any:
        event = json.loads(body) if body else None
        if isinstance(event, dict) and {"ResponseURL", "RequestType"} <= event.keys():
            events.put(event)
            return b""
        return invoke(self, body, request_headers, response_headers)

    LambdaFunction.invoke = invoke_or_answer  # type: ignore[method-assign]


def _answer_custom_resources(endpoint_url: str, events: queue.Queue[dict[str, Any]]) -> None:
    """Answer SUCCESS for each event, at moto's response URL (moto names a Docker host in it;
    the path and query are its own), the way cfn-response does: a PUT of a JSON body."""
    while True:
        event = events.get()
        try:
            _answer(endpoint_url, event)
        except Exception as error:  # the stack may have failed meanwhile; keep answering others
            print(
                f"rehearsal: could not answer {event.get('LogicalResourceId')}: {error}",
                file=sys.stderr,
                flush=True,
            )


def _answer(endpoint_url: str, event: dict[str, Any]) -> None:
    url = urlsplit(event["ResponseURL"])
    response = {
        "Status": "SUCCESS",
        "Reason": "answered by the deploy rehearsal (no Docker to run the function)",
        "PhysicalResourceId": event.get("PhysicalResourceId") or event["LogicalResourceId"],
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": {},
    }
    # moto's response endpoint finds the stack's region in the User-Agent (it ignores the region
    # in its own URL and would look in us-east-1), so the answer names it there.
    region = event["StackId"].split(":")[3]
    # The server answers one request at a time: this one waits for the CreateStack call that
    # created the resource to finish.
    httpx.put(
        f"{endpoint_url}{url.path}?{url.query}",
        content=json.dumps(response),
        headers={"content-type": "", "user-agent": f"relaykit-rehearsal region/{region}"},
        timeout=60,
    ).raise_for_status()


if __name__ == "__main__":
    _serve(sys.stdin)
