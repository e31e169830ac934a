#!/usr/bin/env bash
# Regenerate output/ and every picture in the README, as LibreOffice renders them (needs
# LibreOffice): every page of every workbook in output/, cut to what it shows, into
# docs/images/gallery/ (FILE-SHEET.png), with convsheets' own `render` command.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-python3}
"$python" -m convsheets build --all
rm -rf docs/images/gallery
"$python" -m convsheets render output/*.xlsx --to docs/images/gallery --dpi 70 --trim
"$python" docs/images/gallery.py  # the README's gallery section, from the pictures made

# Pictures of workbooks that are not in output/ (into docs/images/, as FILE-SHEET.png)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# an exercise handout with --self-check, some answers typed in (two of them wrong, a row blank)
"$python" -m convsheets build --variant basic --exercise --self-check \
    -o "$tmp/exercise-empty.xlsx" >/dev/null
"$python" - "$tmp" <<'EOF'
import sys
from pathlib import Path
sys.path.insert(0, ".")
from tests.exercise_fill import fill, typed
tmp = Path(sys.argv[1])
fill(tmp / "exercise-empty.xlsx", tmp / "exercise.xlsx",
     lambda b, i, j, right: None if (b == "output_c1" and i == 2) else
     typed(right + 1 if (b == "output_c0" and i == 0 and j == 1) or
           (b == "output_c1" and i == 1 and j == 0) else right))
EOF
"$python" -m convsheets render "$tmp/exercise.xlsx" --sheet Output --to docs/images --dpi 70 --force \
    --trim >/dev/null
# a transposed layer small enough for its matrix C to be read on one page
"$python" -m convsheets build --variant transposed --input-size 2x2 --in-channels 1 \
    --out-channels 1 --kernel-size 2 --stride 2 --padding 0 --output-padding 0 \
    -o "$tmp/matrix-small.xlsx" >/dev/null
"$python" -m convsheets render "$tmp/matrix-small.xlsx" --sheet Matrix --to docs/images --force \
    --dpi 80 --trim >/dev/null
# the shipped digit classifier's Prediction block (the guide's section with the probability bars)
"$python" -m convsheets build --template digit_classifier -o "$tmp/digit_classifier.xlsx" \
    >/dev/null
"$python" -m convsheets render "$tmp/digit_classifier.xlsx" --sheet Guide --to "$tmp/guide" \
    --dpi 110 --trim >/dev/null
"$python" - "$tmp/guide/digit_classifier-guide.png" docs/images/digit_classifier-prediction.png <<'EOF'
# Cut the Prediction section out of the guide's first page: the rows between the blank gaps
# above and below the probabilities' data bars (rows with 20+ pixels of the bars' blue, which
# LibreOffice draws as a gradient).
import sys
import numpy as np
from PIL import Image
page = np.asarray(Image.open(sys.argv[1]).convert("RGB")).astype(int)
blue = (page[:, :, 2] - page[:, :, 0] > 40) & (page[:, :, 2] > 200)
bar = (blue.sum(axis=1) >= 20).nonzero()[0]
blank = (page.min(axis=2) >= 245).all(axis=1)
def gap(row, step):  # the first run of 12 blank rows from `row` going `step`
    run = 0
    while 0 < row < len(blank) - 1 and run < 12:
        row += step
        run = run + 1 if blank[row] else 0
    return row
top, bottom = gap(bar[0], -1), gap(bar[-1], 1)
Image.open(sys.argv[1]).crop((0, top, page.shape[1], bottom)).save(sys.argv[2])
EOF
# --backward (issue 25): the basic preset's loss, gradients and update step
"$python" -m convsheets build --variant basic --backward -o "$tmp/backward.xlsx" >/dev/null
for sheet in Loss "Grad Weights" "Grad Upsampled" "Grad Input" Update; do
    "$python" -m convsheets render "$tmp/backward.xlsx" --sheet "$sheet" --to docs/images \
        --dpi 70 --force --trim >/dev/null
done
"$python" -m convsheets build --template edges --backward -o "$tmp/backward-edges.xlsx" >/dev/null
"$python" -m convsheets render "$tmp/backward-edges.xlsx" --sheet "maxpool1 Grad Winners" \
    --to docs/images --dpi 70 --force --trim >/dev/null
# --backward on a graph (issue 25): resnet_block's sum where paths split, a join's gradients
"$python" -m convsheets build --template resnet_block --backward -o "$tmp/backward-resnet.xlsx" \
    >/dev/null
for sheet in "stem_relu Grad Output" "b1_add Grad Input"; do
    "$python" -m convsheets render "$tmp/backward-resnet.xlsx" --sheet "$sheet" \
        --to docs/images --dpi 70 --force --trim >/dev/null
done
# --backward through adaptive pooling and upsample (issue 25): the interpolation weights a
# bilinear upsample's gradient gathers with, and adaptive max pooling's winners
cat > "$tmp/backward-resample.toml" <<'EOF2'
input_size = [5, 5]
in_channels = 2
seed = 11
backward = true
layers = [
  {op = "adaptive_max_pool2d", output_size = 3},
  {op = "upsample", size = [7, 5], mode = "bilinear", align_corners = true},
  {op = "adaptive_avg_pool2d", output_size = [3, 2]},
  {op = "conv2d", out_channels = 1, kernel_size = 2},
]
EOF2
"$python" -m convsheets build --template "$tmp/backward-resample.toml" \
    -o "$tmp/backward-resample.xlsx" >/dev/null
for sheet in "upsample1 Grad Interpolation" "upsample1 Grad Columns" \
        "adaptivemax1 Grad Winners"; do
    "$python" -m convsheets render "$tmp/backward-resample.xlsx" --sheet "$sheet" \
        --to docs/images --dpi 70 --force --trim >/dev/null
done
# --backward --loss cross_entropy (issue 25): the digit classifier's Loss sheet
"$python" -m convsheets build --template digit_classifier --backward --loss cross_entropy \
    -o "$tmp/backward-classifier.xlsx" >/dev/null
"$python" -m convsheets render "$tmp/backward-classifier.xlsx" --sheet Loss --to docs/images \
    --dpi 70 --force --trim >/dev/null
# --backward through sigmoid and softmax (issue 25): softmax's Grad Sum sheet (Σ g·y)
cat > "$tmp/backward-softmax.toml" <<'EOF'
input_size = [3, 4]
in_channels = 2
seed = 7
values = "normal"
backward = true
lr = 0.1
layers = [{op = "conv2d", out_channels = 3, kernel_size = 1}, {op = "sigmoid"}, {op = "softmax"}]
EOF
"$python" -m convsheets build --template "$tmp/backward-softmax.toml" \
    -o "$tmp/backward-softmax.xlsx" >/dev/null
"$python" -m convsheets render "$tmp/backward-softmax.xlsx" --sheet "softmax1 Grad Sum" \
    --to docs/images --dpi 70 --force --trim >/dev/null
# issue 27: wavenet's receptive field (the last sample selected: the workbook opens on it) and
# depthwise_causal's guide (its parameter count against a dense conv1d)
"$python" -m convsheets render output/wavenet.xlsx --sheet "Receptive field" --to docs/images \
    --dpi 70 --trim --force >/dev/null
"$python" -m convsheets render output/depthwise_causal.xlsx --sheet Guide --to docs/images \
    --dpi 70 --trim --force >/dev/null
# issue 24's new ops: softmax's explicit stages and a bilinear upsample (README "More ops")
cat > "$tmp/new-ops.toml" <<'EOF2'
input_size = "3x3"
in_channels = 3
seed = 4
values = "normal"

[[layers]]
op = "gelu"

[[layers]]
op = "softmax"          # over the channels of each pixel (dim=1)

[[layers]]
op = "upsample"
scale_factor = 2
mode = "bilinear"       # align_corners=false, PyTorch's default
EOF2
"$python" -m convsheets build --template "$tmp/new-ops.toml" -o "$tmp/new-ops.xlsx" >/dev/null
for sheet in "softmax1 Exp" "upsample1 Output"; do
    "$python" -m convsheets render "$tmp/new-ops.xlsx" --sheet "$sheet" --to docs/images \
        --dpi 70 --trim --force >/dev/null
done
# padding_mode='reflect': the Padded sheet's ring refers to the mirrored input cells
cat > "$tmp/padding-mode.toml" <<'EOF2'
input_size = "4x5"
in_channels = 1
seed = 2
values = "integers"

[[layers]]
op = "conv2d"
out_channels = 1
kernel_size = 3
padding = 2
padding_mode = "reflect"
EOF2
"$python" -m convsheets build --template "$tmp/padding-mode.toml" -o "$tmp/padding-mode.xlsx" \
    >/dev/null
"$python" -m convsheets render "$tmp/padding-mode.xlsx" --sheet "conv1 Padded" --to docs/images \
    --dpi 70 --trim --force >/dev/null
# a graph (issue 28): the layer table of resnet_block's guide (cut from its first page), and
# the explorer of a conv that reads a concatenation
"$python" -m convsheets render output/resnet_block.xlsx --sheet Guide --to "$tmp" --dpi 150 \
    --trim --force >/dev/null
"$python" - "$tmp" <<'EOF'
import sys
from pathlib import Path
from PIL import Image
page = Image.open(Path(sys.argv[1]) / "resnet_block-guide.png")
w, h = page.size
page.crop((0, int(h * 0.226), w, int(h * 0.533))).save("docs/images/resnet_block-graph-table.png")
EOF
"$python" -m convsheets render output/tiny_unet.xlsx --sheet "dec2 Explorer" --to docs/images \
    --dpi 70 --trim --force >/dev/null
# the view budget (issue 24): the "Views left out" section of LeNet-5 28x28's guide (cut from
# the top of the guide's second page, down to the first gap of 15 blank rows)
cat > "$tmp/lenet5.toml" <<'EOF2'
input_size = "28x28"
in_channels = 1
seed = 5
values = "normal"

[[layers]]
op = "conv2d"
name = "c1"
out_channels = 6
kernel_size = 5
padding = 2

[[layers]]
op = "relu"

[[layers]]
op = "avg_pool2d"
name = "s2"
kernel_size = 2

[[layers]]
op = "conv2d"
name = "c3"
out_channels = 16
kernel_size = 5

[[layers]]
op = "relu"

[[layers]]
op = "avg_pool2d"
name = "s4"
kernel_size = 2

[[layers]]
op = "flatten"

[[layers]]
op = "linear"
name = "c5"
out_features = 120

[[layers]]
op = "relu"

[[layers]]
op = "linear"
name = "f6"
out_features = 84

[[layers]]
op = "relu"

[[layers]]
op = "linear"
name = "output"
out_features = 10
EOF2
"$python" -m convsheets build --template "$tmp/lenet5.toml" -o "$tmp/lenet5.xlsx" >/dev/null
"$python" -m convsheets render "$tmp/lenet5.xlsx" --sheet Guide --to "$tmp/lenet5-guide" \
    --dpi 110 --trim --force >/dev/null
"$python" - "$tmp/lenet5-guide/lenet5-guide-2.png" docs/images/lenet5-views-left-out.png <<'EOF'
import sys
import numpy as np
from PIL import Image
page = np.asarray(Image.open(sys.argv[1]).convert("RGB")).astype(int)
blank = (page.min(axis=2) >= 245).all(axis=1)
row, run = int(np.argmin(blank)), 0
while run < 15:
    row += 1
    run = run + 1 if blank[row] else 0
Image.open(sys.argv[1]).crop((0, 0, page.shape[1], row - 10)).save(sys.argv[2])
EOF
# conv_arithmetic's table of animations, each from a workbook built for it (one LibreOffice
# start for all), and a still of the Walk sheet the frames are cut from
rm -rf docs/images/animate
"$python" -m convsheets animate --gallery docs/images/animate >/dev/null
"$python" -m convsheets build --variant basic -o "$tmp/walk.xlsx" >/dev/null
"$python" -m convsheets animate "$tmp/walk.xlsx" --frames 0-8 --dpi 80 \
    -o docs/images/animate-basic.gif --force >/dev/null
"$python" -m convsheets animate output/transposed.xlsx --view scatter --dpi 80 \
    -o docs/images/animate-stamps.gif --force >/dev/null
"$python" -m convsheets animate output/wavenet.xlsx --layer conv4 --dpi 80 \
    -o docs/images/animate-wavenet.gif --force >/dev/null
