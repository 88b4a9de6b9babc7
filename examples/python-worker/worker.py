#!/usr/bin/env python3
"""A Conveyor remote worker in Python's standard library only.

It long-polls the server for jobs, reports progress, and completes or fails each one:
    python3 worker.py --server http://127.0.0.1:7700 --queue default [--token T] [--burst]

The handler below upper-cases `data["text"]`; put your own work in handle().
"""
import argparse
import json
import os
import socket
import sys
import urllib.error
import urllib.request


def call(server, token, path, body):
    req = urllib.request.Request(server.rstrip("/") + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=60) as res:
        return json.loads(res.read() or b"null")


def handle(job, report):
    report(50, "working")
    text = (job.get("data") or {}).get("text", "")
    if text == "fail":
        raise ValueError("asked to fail")
    return {"upper": text.upper()}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", default=os.environ.get("CONVEYOR_SERVER", "http://127.0.0.1:7700"))
    p.add_argument("--token", default=os.environ.get("CONVEYOR_TOKEN"))
    p.add_argument("--queue", default="default")
    p.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    args = p.parse_args()
    worker_id = "python-%s-%d" % (socket.gethostname(), os.getpid())
    done = 0
    while True:
        try:
            claimed = call(args.server, args.token, "/api/worker/claim",
                           {"workerId": worker_id, "queues": [args.queue], "limit": 5, "leaseMs": 30000,
                            "waitMs": 0 if args.burst else 20000})
        except urllib.error.URLError as e:
            print("cannot reach %s: %s" % (args.server, e), file=sys.stderr)
            return 2
        jobs = claimed["jobs"]
        if not jobs and args.burst:
            print("done: %d job(s)" % done)
            return 0
        for job in jobs:
            def report(percent, message, job=job):
                call(args.server, args.token, "/api/worker/update",
                     {"updates": [{"id": job["id"], "token": job["token"], "progress": percent, "message": message}]})
            try:
                result = handle(job, report)
                outcome = {"id": job["id"], "token": job["token"], "kind": "completed", "result": result}
            except Exception as e:  # the job fails; the worker goes on
                outcome = {"id": job["id"], "token": job["token"], "kind": "failed", "error": {"message": str(e)}}
            call(args.server, args.token, "/api/worker/finish", {"outcomes": [outcome]})
            done += 1


if __name__ == "__main__":
    sys.exit(main())
