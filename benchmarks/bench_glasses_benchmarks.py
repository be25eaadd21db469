"""Does the glasses search (``texture.glasses``) fire on the benchmarks' own renders? The relight benchmark's photos
(the Lee Perry-Smith scan at yaw 0 and 25, synthetic heads 0 and 1, each under the six scene lights) and 12 synthetic
heads of ``facesculpt benchmark synthetic --model head``, ``fast``; prints found, the two eyes' scores and seen shares.

    OMP_NUM_THREADS=1 python benchmarks/bench_glasses_benchmarks.py
"""
from facesculpt.bench.relight import ScanSubject, Subject, SCENE_LIGHTS, sh_light
from facesculpt.config import make_config
from facesculpt.pipeline import reconstruct_all
cfg = make_config("fast")
for yaw in (0.0, 25.0):
    s = ScanSubject(yaw)
    for ln in SCENE_LIGHTS:
        rec = reconstruct_all(s.photo(sh_light(*SCENE_LIGHTS[ln]), seed=int(yaw)), config=cfg, max_faces=1)[0]
        g = rec.losses["occlusion"]["glasses"]
        print("scan", yaw, ln, g["found"], g["scores"], g["seen"], flush=True)
for seed in (0, 1):
    s = Subject(seed)
    for ln in SCENE_LIGHTS:
        rec = reconstruct_all(s.photo(sh_light(*SCENE_LIGHTS[ln]), seed=seed), config=cfg, max_faces=1)[0]
        g = rec.losses["occlusion"]["glasses"]
        print("synthetic", seed, ln, g["found"], g["scores"], g["seen"], flush=True)
from facesculpt.synthetic.head import generate_head_face  # noqa: E402

for seed in range(12):
    rec = reconstruct_all(generate_head_face(seed).image, config=cfg, max_faces=1)[0]
    g = rec.losses["occlusion"]["glasses"]
    print("synthetic head", seed, g["found"], g["scores"], g["seen"], flush=True)
