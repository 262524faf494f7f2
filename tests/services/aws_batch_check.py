"""Smoke test of aws-batch.sh: moto's AWS Batch runs an array job of 3 children as podman containers.

usage: python aws_batch_check.py BATCH_ENDPOINT IMAGE [S3_ENDPOINT]

Creates a role, an UNMANAGED compute environment, a queue, a bucket on S3_ENDPOINT (default: the batch
endpoint, whose moto serves S3 too) and a job definition in IMAGE whose command is a python3 one-liner;
submits one array job of size 3 and waits for it. Each child finds its index in ``AWS_BATCH_JOB_ID``
(``<parent>:<index>``: moto 5.2 sets no ``AWS_BATCH_JOB_ARRAY_INDEX``) and PUTs ``out/<index>.txt`` to the
bucket with the image's own python3 (urllib, no boto3 in the image; moto's S3 takes unsigned requests). OK
when the parent and the 3 children are SUCCEEDED, the 3 objects hold what the children wrote, and each
child's CloudWatch log (group ``/aws/batch/job``) has its line.
"""

import json
import sys
import time
import urllib.request

import boto3

CHILD = """
import os, urllib.request
i = os.environ.get("AWS_BATCH_JOB_ARRAY_INDEX") or os.environ["AWS_BATCH_JOB_ID"].rpartition(":")[2]
url = os.environ["PW_S3"] + "/" + os.environ["PW_BUCKET"] + "/out/" + i + ".txt"
# an explicit Content-Type: urllib's default (a form) has the server parse the body away
req = urllib.request.Request(url, data=("child " + i + "\\n").encode(), method="PUT",
                             headers={"Content-Type": "text/plain"})
urllib.request.urlopen(req, timeout=30).read()
print("child", i, "wrote", url, flush=True)
"""
SIZE = 3
DONE = ("SUCCEEDED", "FAILED")


def clients(batch_ep, s3_ep):
    """The iam, batch and logs clients of the batch endpoint, and the s3 client of the S3 endpoint."""
    kw = dict(region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    iam, batch, logs = (boto3.client(s, endpoint_url=batch_ep, **kw) for s in ("iam", "batch", "logs"))
    return iam, batch, logs, boto3.client("s3", endpoint_url=s3_ep, **kw)


def setup(iam, batch, image, s3_ep, bucket, n):
    """Create the compute environment, queue and job definition; return the queue and definition ARNs."""
    role = iam.create_role(RoleName=f"pw-batch-{n}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    ce = batch.create_compute_environment(
        computeEnvironmentName=f"pw-ce-{n}", type="UNMANAGED", state="ENABLED", serviceRole=role
    )["computeEnvironmentArn"]
    queue = batch.create_job_queue(
        jobQueueName=f"pw-q-{n}",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}],
    )["jobQueueArn"]
    env = [{"name": "PW_S3", "value": s3_ep}, {"name": "PW_BUCKET", "value": bucket}]
    jd = batch.register_job_definition(
        jobDefinitionName=f"pw-jd-{n}",
        type="container",
        containerProperties={
            "image": image,
            "command": ["python3", "-c", CHILD],
            "environment": env,
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}],
        },
    )["jobDefinitionArn"]
    return queue, jd


def wait(batch, ids, timeout=120.0):
    """Poll describe_jobs (one call for all ids) until the children (ids[1:]) are done; return {id: job}.

    The parent is not waited for: moto turns it SUCCEEDED with its last child, but never FAILED.
    """
    t0 = time.time()
    while True:
        jobs = {j["jobId"]: j for j in batch.describe_jobs(jobs=ids)["jobs"]}
        if all(jobs.get(i, {}).get("status") in DONE for i in ids[1:]) or time.time() - t0 > timeout:
            return jobs
        time.sleep(0.5)


def log_lines(logs, job):
    """The CloudWatch log lines of a job (its stream in /aws/batch/job), or a note why there are none."""
    stream = job.get("container", {}).get("logStreamName")
    if not stream:
        return ["(no log stream)"]
    try:
        events = logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=stream)["events"]
    except Exception as e:  # no log group when nothing ran
        return [f"(no logs: {type(e).__name__})"]
    return [e["message"] for e in events]


def main(argv):
    """Run the check; return the process exit status."""
    batch_ep, image = argv[1], argv[2]
    s3_ep = argv[3] if len(argv) > 3 else batch_ep
    req = urllib.request.Request(
        batch_ep + "/moto-api/config",
        method="POST",
        headers={"Content-Type": "application/json"},
        data=json.dumps({"batch": {"use_docker": True}}).encode(),
    )
    urllib.request.urlopen(req, timeout=10).read()
    n = time.time_ns()
    bucket = f"pw-batch-check-{n}"
    iam, batch, logs, s3 = clients(batch_ep, s3_ep)
    s3.create_bucket(Bucket=bucket)
    queue, jd = setup(iam, batch, image, s3_ep, bucket, n)
    t0 = time.time()
    parent = batch.submit_job(
        jobName="pw-check", jobQueue=queue, jobDefinition=jd, arrayProperties={"size": SIZE}
    )["jobId"]
    ids = [parent] + [f"{parent}:{i}" for i in range(SIZE)]
    jobs = wait(batch, ids)
    took = time.time() - t0
    ok = True
    print(f"array job {parent} (size {SIZE}) on {batch_ep}, {image}, outputs on {s3_ep}: {took:.1f} s")
    summary = jobs[parent].get("arrayProperties", {}).get("statusSummary")
    print(f"  parent: {jobs[parent]['status']} {summary}")
    ok &= jobs[parent]["status"] == "SUCCEEDED"
    for i in range(SIZE):
        job = jobs.get(f"{parent}:{i}", {})
        lines = log_lines(logs, job) if job else []
        try:
            out = s3.get_object(Bucket=bucket, Key=f"out/{i}.txt")["Body"].read().decode()
        except s3.exceptions.NoSuchKey:
            out = "(missing)"
        good = job.get("status") == "SUCCEEDED" and out == f"child {i}\n" and any("wrote" in x for x in lines)
        ok &= good
        print(f"  child {i}: {job.get('status')}, s3 out/{i}.txt={out.strip()!r}, log={lines} -> {good}")
    print("aws-batch: OK" if ok else "aws-batch: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
