#!/usr/bin/python3
"""Write the scenario files of scenarios/ (environments A-D x models x links, the failure
scenario, and the local_cpu cross-check family). Rerunnable; standard library only.

The choices (batch sizes, micro-batch sizes, optimizers) are documented in scenarios/README.md;
change them here, not in the generated files.
"""

import argparse
import json
import os

# model -> (input, batch size, allowed micro-batch sizes, optimizer). Batch sizes from evidence
# (scenarios/README.md): CIFAR networks 128 and ResNet50 32, the smallest batches at which an A100
# can train as fast as Table 1 says; BERT 32 samples of 512 tokens, the paper's "32 x 512".
MODELS = {
    "efficientnet_b1": ("cifar10_32", 128, [4, 8, 16, 32, 64, 128], "sgd_momentum"),
    "mobilenetv2": ("cifar10_32", 128, [4, 8, 16, 32, 64, 128], "sgd_momentum"),
    "resnet50": ("miniimagenet_224", 32, [2, 4, 8, 16, 32], "sgd_momentum"),
    "bert_small": ("synthetic_seq512", 32, [1, 2, 4, 8, 16, 32], "adam"),
}

# Models run only on this machine (no Jetson traces): lenet5, the small model without batch norm
# on which every plan computes exactly one device's update.
LOCAL_MODELS = {"lenet5": ("cifar10_32", 32, [4, 8, 16, 32], "sgd_momentum")}

# The paper's Table 6 (evaluation environments).
ENVS = {
    "A": [("nano", 5)],
    "B": [("nx", 3), ("tx2", 2)],
    "C": [("nx", 1), ("tx2", 2), ("nano", 3)],
    "D": [("tx2", 1), ("nano", 3)],
    # Beyond the paper: devices given by their datasheets (traces/<type>/device.json, traces by
    # derive_traces.py) with the Jetsons. E: three Jetson generations, Maxwell to Ampere. F: a lab
    # with a laptop GPU, two Raspberry Pi 5 (CPU only), an Orin Nano and two Nanos.
    "E": [("agx_orin", 1), ("orin_nano", 2), ("nx", 1), ("tx2", 1), ("nano", 2)],
    "F": [("laptop", 1), ("orin_nano", 1), ("nano", 2), ("pi5", 2)],
}
TYPE = {"nano": "jetson_nano", "tx2": "jetson_tx2", "nx": "jetson_xavier_nx",
        "agx_orin": "jetson_agx_orin_32gb", "orin_nano": "jetson_orin_nano_8gb", "laptop": "laptop_rtx4050",
        "pi5": "raspberry_pi_5"}
PREFIX = {"nano": "nano", "tx2": "tx2_", "nx": "nx", "agx_orin": "agx_orin", "orin_nano": "orin_nano",
          "laptop": "laptop", "pi5": "pi"}
DATASHEET_KINDS = ("agx_orin", "orin_nano", "laptop", "pi5")
LINKS = {"100": "100Mbps", "1000": "1000Mbps"}
LATENCY = "0.5ms"  # half of a switched Ethernet round trip (0.2-0.5 ms)

# Failure scenario: environment C, the NX (the first stage of the planned pipeline) leaves about a
# third into the run.
FAIL = {"env": "C", "model": "resnet50", "link": "1000", "rounds": 60, "leave_at": "30s",
        "device": "nx0"}

# Local cross-check family (traces measured on this machine by asteroid-profile).
# (model, devices, batch size, rounds)
LOCAL = [("mobilenetv2", 2, 32, 20), ("mobilenetv2", 3, 32, 20), ("efficientnet_b1", 2, 32, 20),
         ("efficientnet_b1", 3, 32, 20), ("resnet50", 2, 16, 5), ("bert_small", 2, 16, 5),
         ("lenet5", 4, 32, 300)]


LOCAL_FAIL = {"base": ("mobilenetv2", 3), "leave_at": "3s", "rounds": 24}

# Networks beyond one switch (docs/formats.md, "Network"), on environment C's boards at 1 Gbps:
# (name, model, network). Wired links 1 Gbps with 0.1 ms each way (a switch hop); Wi-Fi a 400 Mbps
# medium (what one station-to-station transfer gets on 802.11ac/ax through an access point) with
# 1 ms, its access point on the lab switch by a 1 Gbps port.
WIRED = {"bandwidth": "1Gbps", "latency": "0.1ms"}
TOPOLOGIES = [
    ("envC_two_rooms_resnet50", "resnet50", {
        "switches": ["lab", "office"],
        "links": [dict(WIRED, between=[d, "lab"]) for d in ("nx0", "tx2_0", "tx2_1")]
        + [dict(WIRED, between=[d, "office"]) for d in ("nano0", "nano1", "nano2")]
        + [{"between": ["lab", "office"], "bandwidth": "1Gbps", "latency": "0.3ms"}],
    }),
    ("envC_wifi_efficientnet_b1", "efficientnet_b1", {
        "switches": ["lab"],
        "media": [{"name": "wlan", "bandwidth": "400Mbps", "latency": "1ms",
                   "stations": ["tx2_0", "tx2_1", "nano0", "nano1", "nano2"]}],
        "links": [dict(WIRED, between=["nx0", "lab"]), dict(WIRED, between=["wlan", "lab"])],
    }),
]


def devices_of(env):
    out = []
    for kind, n in ENVS[env]:
        for i in range(n):
            out.append({"name": f"{PREFIX[kind]}{i}", "type": TYPE[kind]})
    return out


def env_scenario(env, model, link):
    inp, batch, micro, opt = MODELS[model]
    devs = devices_of(env)
    types = sorted({d["type"] for d in devs})
    desc = (f"Environment {env} ({', '.join(f'{n} x {TYPE[k]}' for k, n in ENVS[env])}), {model} on "
            f"{inp}, {LINKS[link]} star network. " +
            ("Traces are derived (tools/calibrate): the Nano, TX2 and Xavier NX by calibrate_jetson.py, the "
             "other devices from their datasheets by derive_traces.py."
             if any(k in DATASHEET_KINDS for k, _ in ENVS[env]) else "Jetson traces are derived (tools/calibrate)."))
    return {
        "schema_version": 1,
        "name": f"env{env}_{model}_{link}mbps",
        "description": desc,
        "cluster": {"devices": devs, "network": {"bandwidth": LINKS[link], "latency": LATENCY}},
        "model": {"name": model, "input": inp},
        "training": {"batch_size": batch, "optimizer": opt},
        "planner": {"strategy": "asteroid", "microbatch_sizes": micro},
        "traces": {t: f"../traces/{t}/{model}.json" for t in types},
    }


def write(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", default=os.path.normpath(os.path.join(here, "..", "..", "scenarios")))
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    n = 0
    for env in ENVS:
        for model in MODELS:
            for link in LINKS:
                s = env_scenario(env, model, link)
                write(os.path.join(args.out_dir, s["name"] + ".json"), s)
                n += 1

    s = env_scenario(FAIL["env"], FAIL["model"], FAIL["link"])
    s["name"] = "envC_fail"
    s["description"] = (f"Environment C, {FAIL['model']}, {LINKS[FAIL['link']]}: {FAIL['device']} (the "
                        f"Xavier NX) leaves at {FAIL['leave_at']}, about a third into a run of "
                        f"{FAIL['rounds']} rounds; 1 s heartbeats, failure after 3 missed beats, "
                        "lightweight re-planning.")
    s["training"]["rounds"] = FAIL["rounds"]
    s["faults"] = {"heartbeat_interval": "1s", "missed_heartbeats": 3,
                   "replication_interval_rounds": 1, "recovery": "lightweight",
                   "events": [{"at": FAIL["leave_at"], "device": FAIL["device"], "kind": "leave"}]}
    write(os.path.join(args.out_dir, "envC_fail.json"), s)
    n += 1

    for model, ndev, batch, rounds in LOCAL:
        inp, _, _, opt = {**MODELS, **LOCAL_MODELS}[model]
        if model == "bert_small":
            inp = "synthetic_seq128"  # the measured local_cpu trace: 128 tokens keep the real runs short
        micro = [m for m in (1, 2, 4, 8, 16, 32) if batch % m == 0 and m >= 2]
        s = {
            "schema_version": 1,
            "name": f"local_{model}_{ndev}dev",
            "description": (f"{ndev} processes on this machine (device type local_cpu, measured trace), "
                            f"{model}, 1 Gbps: for checking the simulator against real runs here."),
            "cluster": {"devices": [{"name": f"cpu{i}", "type": "local_cpu"} for i in range(ndev)],
                        "network": {"bandwidth": "1Gbps", "latency": LATENCY}},
            "model": {"name": model, "input": inp},
            "training": {"batch_size": batch, "rounds": rounds, "optimizer": opt},
            "planner": {"strategy": "asteroid", "microbatch_sizes": micro},
            "traces": {"local_cpu": f"../traces/local_cpu/{model}.json"},
        }
        write(os.path.join(args.out_dir, s["name"] + ".json"), s)
        n += 1
        if (model, ndev) == LOCAL_FAIL["base"]:
            # A failure executed for real by asteroid-exec (and simulated): the last device leaves.
            f = dict(s, name=s["name"] + "_fail")
            f["description"] = (f"{s['description'][:-1]}; cpu{ndev - 1} leaves at {LOCAL_FAIL['leave_at']} "
                                f"(its worker is killed), 0.5 s heartbeats, failure after 3 missed beats.")
            f["training"] = dict(s["training"], rounds=LOCAL_FAIL["rounds"])
            f["faults"] = {"heartbeat_interval": "0.5s", "missed_heartbeats": 3,
                           "replication_interval_rounds": 1, "recovery": "lightweight",
                           "events": [{"at": LOCAL_FAIL["leave_at"], "device": f"cpu{ndev - 1}", "kind": "leave"}]}
            write(os.path.join(args.out_dir, f["name"] + ".json"), f)
            n += 1
    for name, model, network in TOPOLOGIES:
        s = env_scenario("C", model, "1000")
        s["name"] = name
        s["description"] = {
            "envC_two_rooms_resnet50": "Environment C in two rooms: the Xavier NX and the TX2s on the lab's "
                                       "switch, the Nanos on the office's, one 1 Gbps uplink between them; "
                                       "resnet50 on miniimagenet_224.",
            "envC_wifi_efficientnet_b1": "Environment C with the TX2s and Nanos on Wi-Fi (one 400 Mbps medium "
                                         "behind an access point on the lab switch) and the Xavier NX wired; "
                                         "efficientnet_b1 on cifar10_32.",
        }[name] + " Jetson traces are derived (tools/calibrate)."
        s["cluster"]["network"] = network
        write(os.path.join(args.out_dir, name + ".json"), s)
        n += 1
    print(f"wrote {n} scenarios to {args.out_dir}")


if __name__ == "__main__":
    main()
