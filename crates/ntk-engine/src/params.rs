//! Stored network parameters in stax layout: per dense layer `W` (`fan_in × fan_out`) and
//! `b` (`fan_out`), the last pair being the readout.

use std::path::Path;

use faer::Mat;

use crate::data::NpyFile;
use crate::error::{Error, Result};
use crate::init;
use crate::model::Mlp;
use crate::predict::Matrix;

/// One dense layer's stored parameters.
#[derive(Clone, Debug)]
pub struct Dense {
    /// Weights, `fan_in × fan_out`.
    pub w: Mat<f64>,
    /// Biases, `fan_out`.
    pub b: Vec<f64>,
}

/// All parameters of an [`Mlp`], layer `0..=L`.
#[derive(Clone, Debug)]
pub struct Params {
    /// The dense layers, readout last.
    pub layers: Vec<Dense>,
}

impl Dense {
    /// A layer from its weights (`fan_in × fan_out`, row-major as stax stores `W`) and
    /// biases (`fan_out`); fails when the sizes disagree or a value is not finite.
    pub fn new(w: &Matrix, b: Vec<f64>) -> Result<Self> {
        w.check_len("layer weights")?;
        if b.len() != w.cols {
            return Err(Error::DimensionMismatch {
                what: format!("biases of a layer with {}×{} weights", w.rows, w.cols),
                expected: w.cols,
                got: b.len(),
            });
        }
        for (what, v, cols) in [("layer weights", &w.data, w.cols), ("layer biases", &b, 1)] {
            if let Some(p) = v.iter().position(|x| !x.is_finite()) {
                return Err(Error::NonFinite {
                    what: what.into(),
                    row: p / cols.max(1),
                    col: p % cols.max(1),
                    value: v[p],
                });
            }
        }
        Ok(Dense {
            w: Mat::from_fn(w.rows, w.cols, |i, j| w.data[i * w.cols + j]),
            b,
        })
    }

    /// `(fan_in, fan_out)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.w.nrows(), self.w.ncols())
    }

    /// The weights as a row-major `fan_in × fan_out` [`Matrix`] (a copy), stax's layout.
    pub fn weights(&self) -> Matrix {
        Matrix::from_fn(self.w.nrows(), self.w.ncols(), |i, j| self.w[(i, j)])
    }

    /// Weight `W[i, j]` from input `i` to output `j`.
    ///
    /// # Panics
    /// When `i ≥ fan_in` or `j ≥ fan_out`.
    pub fn weight(&self, i: usize, j: usize) -> f64 {
        self.w[(i, j)]
    }

    /// The weights into output unit `j` (`fan_in` values, in place).
    ///
    /// # Panics
    /// When `j ≥ fan_out`.
    pub fn weights_into(&self, j: usize) -> &[f64] {
        self.w.col_as_slice(j)
    }

    /// The biases, `fan_out` values.
    pub fn bias(&self) -> &[f64] {
        &self.b
    }
}

impl Params {
    /// Parameters from their layers (readout last), checked against `model`.
    pub fn from_layers(model: &Mlp, layers: Vec<Dense>) -> Result<Self> {
        model.validate()?;
        let p = Params { layers };
        p.check(model)?;
        Ok(p)
    }

    /// The number of dense layers, `L + 1` (the readout included).
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// `true` when there are no layers (never for parameters made by this crate).
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Dense layer `l` (`0..=L`, the readout last), if there is one.
    pub fn layer(&self, l: usize) -> Option<&Dense> {
        self.layers.get(l)
    }

    /// Every parameter in stax's flat order: `W0` row-major, `b0`, `W1`, `b1`, ….
    pub fn to_flat(&self) -> Vec<f64> {
        crate::reference::flatten(self)
    }

    /// The seeded initialisation of `init`: the same values, bit for bit, that the
    /// streamed paths regenerate chunk by chunk.
    pub fn seeded(model: &Mlp, seed: u64) -> Result<Self> {
        model.validate()?;
        let depth = model.depth();
        let mut layers = Vec::with_capacity(depth + 1);
        for l in 0..depth {
            let (fan_in, fan_out) = model.layer_shape(l);
            let (w, b) = init::hidden_columns(model, seed, l, 0..fan_out);
            layers.push(Dense {
                w: Mat::from_fn(fan_in, fan_out, |i, j| w[j * fan_in + i]),
                b,
            });
        }
        let (fan_in, k) = model.layer_shape(depth);
        let w = init::readout_rows(model, seed, 0..fan_in);
        layers.push(Dense {
            w: Mat::from_fn(fan_in, k, |i, j| w[i * k + j]),
            b: init::readout_bias(model, seed),
        });
        Ok(Params { layers })
    }

    /// Reads `W0.npy`, `b0.npy`, `W1.npy`, … from `dir` (f32 or f64) and checks every shape
    /// against `model`. Extra layers on disk (a `W{L+1}.npy`) are an error too.
    pub fn load_dir(dir: impl AsRef<Path>, model: &Mlp) -> Result<Self> {
        model.validate()?;
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(Error::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "weights directory not found (expected W0.npy, b0.npy, …)",
                ),
            });
        }
        let mut layers = Vec::new();
        for l in 0..=model.depth() {
            let (fan_in, fan_out) = model.layer_shape(l);
            let wf = NpyFile::open(dir.join(format!("W{l}.npy")))?;
            let shape = wf.shape();
            if shape != [fan_in, fan_out] {
                return Err(Error::npy(
                    wf.path(),
                    format!(
                        "shape {shape:?} disagrees with the model ({model}): expected \
                         [{fan_in}, {fan_out}] for layer {l}"
                    ),
                ));
            }
            let wv = wf.to_f64_vec();
            if let Some(p) = wv.iter().position(|v| !v.is_finite()) {
                return Err(Error::NonFinite {
                    what: wf.path().display().to_string(),
                    row: p / fan_out,
                    col: p % fan_out,
                    value: wv[p],
                });
            }
            let bf = NpyFile::open(dir.join(format!("b{l}.npy")))?;
            let bshape = bf.shape();
            if bshape != [fan_out] && bshape != [1, fan_out] {
                return Err(Error::npy(
                    bf.path(),
                    format!("shape {bshape:?}: expected [{fan_out}] for layer {l}"),
                ));
            }
            let b = bf.to_f64_vec();
            if let Some(p) = b.iter().position(|v| !v.is_finite()) {
                return Err(Error::NonFinite {
                    what: bf.path().display().to_string(),
                    row: 0,
                    col: p,
                    value: b[p],
                });
            }
            layers.push(Dense {
                w: Mat::from_fn(fan_in, fan_out, |i, j| wv[i * fan_out + j]),
                b,
            });
        }
        let extra = dir.join(format!("W{}.npy", model.depth() + 1));
        if extra.exists() {
            return Err(Error::npy(
                extra,
                format!(
                    "the weights have more layers than the model ({} hidden): check --widths",
                    model.depth()
                ),
            ));
        }
        Ok(Params { layers })
    }

    /// Writes the parameters as `W0.npy`, `b0.npy`, … into `dir` (f64).
    pub fn save_dir(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        for (l, layer) in self.layers.iter().enumerate() {
            let (r, c) = (layer.w.nrows(), layer.w.ncols());
            crate::data::npy::write(
                dir.join(format!("W{l}.npy")),
                &[r, c],
                (0..r * c).map(|p| layer.w[(p / c, p % c)]),
            )?;
            crate::data::npy::write(dir.join(format!("b{l}.npy")), &[c], layer.b.iter().copied())?;
        }
        Ok(())
    }

    /// Checks that the stored shapes match `model`.
    pub fn check(&self, model: &Mlp) -> Result<()> {
        if self.layers.len() != model.depth() + 1 {
            return Err(Error::DimensionMismatch {
                what: "number of dense layers in the weights".into(),
                expected: model.depth() + 1,
                got: self.layers.len(),
            });
        }
        for (l, layer) in self.layers.iter().enumerate() {
            let (fan_in, fan_out) = model.layer_shape(l);
            if layer.w.nrows() != fan_in || layer.w.ncols() != fan_out || layer.b.len() != fan_out {
                return Err(Error::invalid(
                    format!("shape of layer {l}"),
                    format!(
                        "W {}×{}, b {}",
                        layer.w.nrows(),
                        layer.w.ncols(),
                        layer.b.len()
                    ),
                    format!("W {fan_in}×{fan_out}, b {fan_out} for {model}"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;

    #[test]
    fn layers_read_and_rebuild_as_engine_types() {
        let mlp = Mlp::new(3, &[4], Activation::Relu).with_outputs(2);
        let p = Params::seeded(&mlp, 7).unwrap();
        assert_eq!(p.len(), 2);
        let l0 = p.layer(0).unwrap();
        assert_eq!(l0.shape(), (3, 4));
        let w = l0.weights();
        assert_eq!(w.get(2, 1), l0.weight(2, 1));
        assert_eq!(l0.weights_into(1)[2], l0.weight(2, 1));
        assert_eq!(l0.bias().len(), 4);
        assert!(p.layer(2).is_none());
        let rebuilt: Vec<Dense> = p
            .layers
            .iter()
            .map(|l| Dense::new(&l.weights(), l.bias().to_vec()).unwrap())
            .collect();
        let q = Params::from_layers(&mlp, rebuilt).unwrap();
        assert_eq!(q.to_flat(), p.to_flat());
        assert_eq!(p.to_flat().len(), mlp.parameter_count());
        assert!(Params::from_layers(&mlp, q.layers[..1].to_vec()).is_err());
        assert!(Dense::new(&w, vec![0.0; 3]).is_err());
        let nan = Matrix::new(1, 1, vec![f64::NAN]).unwrap();
        assert!(Dense::new(&nan, vec![0.0]).is_err());
    }
}
