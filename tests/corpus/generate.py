"""A probe corpus: 114 real models of kinds tests/fixtures does not hold (more scikit-learn
estimators and pipelines through skl2onnx, XGBoost and LightGBM objectives, boosters and
options), written in the fixture layout (FAMILY/CASE/model.*, input.csv, expected.csv from
the library itself, meta.json). It is a probe, not a test: it shows what ferry reads, what
it refuses and where it disagrees, before an independent corpus does. What it found that
ferry now reads became fixtures under tests/fixtures with their generators.

    python3.12 -m venv ~/.cache/ferry-probe-venv
    ~/.cache/ferry-probe-venv/bin/pip install -r tests/fixtures/onnx-requirements.txt
    ~/.cache/ferry-probe-venv/bin/python tests/corpus/generate.py /tmp/corpus [NAME-SUBSTRING]
    python3 tests/corpus/check.py /tmp/corpus                 # ferry predict vs the library
    ~/.cache/ferry-sql-venv/bin/python tests/sql/matrix.py --fixtures /tmp/corpus --engines sqlite,duckdb
"""
import json, sys, traceback, warnings
from pathlib import Path
import numpy as np, pandas as pd
warnings.filterwarnings("ignore")
from sklearn import datasets
from sklearn import linear_model as lm, tree, ensemble as en, svm, neighbors, naive_bayes as nb, neural_network as nn
from sklearn import discriminant_analysis as da, preprocessing as pp, decomposition as dec, pipeline as pl, compose, impute, calibration, multiclass, feature_selection as fs
from skl2onnx import to_onnx
import xgboost as xgb, lightgbm as lgb

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/corpus")
ONLY = sys.argv[2] if len(sys.argv) > 2 else None
rng = np.random.default_rng(0)

Xd, yd = datasets.load_diabetes(return_X_y=True, as_frame=True)
Xb, yb = datasets.load_breast_cancer(return_X_y=True, as_frame=True)
Xb = Xb.iloc[:, :8]; Xb.columns = [f"b{i}" for i in range(8)]
Xi, yi = datasets.load_iris(return_X_y=True, as_frame=True)
Xi.columns = ["sl", "sw", "pl", "pw"]
Xw, yw = datasets.load_wine(return_X_y=True, as_frame=True)
Xw = Xw.iloc[:, :6]; Xw.columns = [f"w{i}" for i in range(6)]


def write(fam, name, model_bytes, ext, X, exp, meta=None):
    d = OUT / fam / name
    d.mkdir(parents=True, exist_ok=True)
    (d / f"model.{ext}").write_bytes(model_bytes)
    X.to_csv(d / "input.csv", index=False)
    pd.DataFrame(exp).to_csv(d / "expected.csv", index=False, float_format="%.17g")
    (d / "meta.json").write_text(json.dumps(meta or {"case": name}))


def sk_expected(m, X, cls):
    if cls:
        out = {"label": m.predict(X)}
        if hasattr(m, "predict_proba"):
            try:
                p = m.predict_proba(X)
                for j, c in enumerate(m.classes_):
                    out[f"proba_{c}"] = p[:, j]
            except Exception:
                pass
        return out
    p = m.predict(X)
    if p.ndim == 2:
        return {f"prediction_{j}": p[:, j] for j in range(p.shape[1])}
    return {"prediction": p}


def onnx_case(name, m, X, y, cls, dtype=np.float32, **kw):
    if ONLY and ONLY not in name:
        return
    try:
        m.fit(X, y)
        mixed = isinstance(X, pd.DataFrame) and not all(pd.api.types.is_numeric_dtype(t) for t in X.dtypes)
        Xc = X if mixed else X.astype(dtype)
        if mixed:
            onx = to_onnx(m, X[:1], **kw)
        else:
            onx = to_onnx(m, Xc.to_numpy()[:1], **kw)
        exp = sk_expected(m, X, cls)
        write("onnx", name, onx.SerializeToString(), "onnx", X, exp)
    except Exception as e:
        print(f"GENFAIL {name}: {type(e).__name__}: {str(e)[:200]}")


C = lambda: {"options": {"zipmap": False}}
# --- linear & friends
onnx_case("huber", lm.HuberRegressor(max_iter=500), Xd, yd, False)
onnx_case("bayesridge", lm.BayesianRidge(), Xd, yd, False)
onnx_case("ard", lm.ARDRegression(), Xd, yd, False)
onnx_case("lars", lm.LassoLars(alpha=0.01), Xd, yd, False)
onnx_case("omp", lm.OrthogonalMatchingPursuit(), Xd, yd, False)
onnx_case("theilsen", lm.TheilSenRegressor(random_state=0), Xd, yd, False)
onnx_case("sgdreg", pl.make_pipeline(pp.StandardScaler(), lm.SGDRegressor(random_state=0)), Xd, yd, False)
onnx_case("par", lm.PassiveAggressiveRegressor(random_state=0), Xd, yd, False)
onnx_case("quantile", lm.QuantileRegressor(alpha=0.0), Xd, yd, False)
onnx_case("ridgeclf", lm.RidgeClassifier(), Xb, yb, True, **C())
onnx_case("ridgeclf3", lm.RidgeClassifier(), Xi, yi, True, **C())
onnx_case("logreg_ovr", multiclass.OneVsRestClassifier(lm.LogisticRegression(max_iter=2000)), Xi, yi, True, **C())
onnx_case("sgd_modhuber", lm.SGDClassifier(loss="modified_huber", random_state=0), Xb, yb, True, **C())
onnx_case("sgd_log3", lm.SGDClassifier(loss="log_loss", random_state=0), Xi, yi, True, **C())
onnx_case("pac", lm.PassiveAggressiveClassifier(random_state=0), Xi, yi, True, **C())
onnx_case("linsvc3", svm.LinearSVC(), Xi, yi, True)
onnx_case("logreg_cv", lm.LogisticRegressionCV(max_iter=2000), Xb, yb, True, **C())
# --- trees
onnx_case("extratree_reg", tree.ExtraTreeRegressor(random_state=0), Xd, yd, False)
onnx_case("extratrees_reg", en.ExtraTreesRegressor(n_estimators=20, random_state=0), Xd, yd, False)
onnx_case("gbm_huber", en.GradientBoostingRegressor(loss="huber", random_state=0), Xd, yd, False)
onnx_case("gbm_quantile", en.GradientBoostingRegressor(loss="quantile", alpha=0.9, random_state=0), Xd, yd, False)
onnx_case("gbm_init_zero", en.GradientBoostingClassifier(init="zero", n_estimators=30, random_state=0), Xb, yb, True, **C())
onnx_case("hgb_multi", en.HistGradientBoostingClassifier(max_iter=30), Xi, yi, True, **C())
onnx_case("adaboost_clf", en.AdaBoostClassifier(n_estimators=20, random_state=0), Xb, yb, True, **C())
onnx_case("adaboost_clf3", en.AdaBoostClassifier(n_estimators=20, random_state=0), Xi, yi, True, **C())
onnx_case("adaboost_reg", en.AdaBoostRegressor(n_estimators=20, random_state=0), Xd, yd, False)
onnx_case("bagging_clf", en.BaggingClassifier(n_estimators=5, random_state=0), Xi, yi, True, **C())
onnx_case("bagging_reg", en.BaggingRegressor(n_estimators=5, random_state=0), Xd, yd, False)
onnx_case("voting_hard", en.VotingClassifier([("a", lm.LogisticRegression(max_iter=2000)), ("b", tree.DecisionTreeClassifier(max_depth=3))], voting="hard", flatten_transform=False), Xi, yi, True, **C())
onnx_case("voting_soft", en.VotingClassifier([("a", lm.LogisticRegression(max_iter=2000)), ("b", tree.DecisionTreeClassifier(max_depth=3))], voting="soft", flatten_transform=False), Xi, yi, True, **C())
onnx_case("stacking_reg", en.StackingRegressor([("a", lm.Ridge()), ("b", tree.DecisionTreeRegressor(max_depth=3))]), Xd, yd, False)
onnx_case("isoforest", en.IsolationForest(n_estimators=10, random_state=0), Xd, None, False, target_opset={"": 17, "ai.onnx.ml": 3})
# --- others
onnx_case("gnb", nb.GaussianNB(), Xi, yi, True, **C())
onnx_case("bnb", nb.BernoulliNB(binarize=0.0), Xd, (yd > 140).astype(int), True, **C())
onnx_case("mnb", nb.MultinomialNB(), Xw, yw, True, **C())
onnx_case("lda", da.LinearDiscriminantAnalysis(), Xi, yi, True, **C())
onnx_case("qda", da.QuadraticDiscriminantAnalysis(), Xi, yi, True, **C())
onnx_case("knn_clf", neighbors.KNeighborsClassifier(), Xi, yi, True, **C())
onnx_case("knn_reg", neighbors.KNeighborsRegressor(), Xd, yd, False)
onnx_case("svc_lin", svm.SVC(kernel="linear", probability=False), Xi, yi, True, **C())
onnx_case("svc_rbf_proba", svm.SVC(probability=True, random_state=0), Xb, yb, True, **C())
onnx_case("nusvc", svm.NuSVC(), Xi, yi, True, **C())
onnx_case("oneclass", svm.OneClassSVM(), Xi, None, False)
onnx_case("mlp_tanh", nn.MLPRegressor(activation="tanh", max_iter=300, random_state=0), Xd, yd, False)
onnx_case("mlp_identity3", nn.MLPClassifier(activation="identity", max_iter=300, random_state=0), Xi, yi, True, **C())
# --- pipelines / transformers
onnx_case("minmax_ridge", pl.make_pipeline(pp.MinMaxScaler(), lm.Ridge()), Xd, yd, False)
onnx_case("maxabs_ridge", pl.make_pipeline(pp.MaxAbsScaler(), lm.Ridge()), Xd, yd, False)
onnx_case("robust_ridge", pl.make_pipeline(pp.RobustScaler(), lm.Ridge()), Xd, yd, False)
onnx_case("normalizer_lr", pl.make_pipeline(pp.Normalizer(), lm.LogisticRegression(max_iter=2000)), Xi, yi, True, **C())
onnx_case("binarizer_lr", pl.make_pipeline(pp.Binarizer(threshold=0.0), lm.LinearRegression()), Xd, yd, False)
onnx_case("kbins_onehot", pl.make_pipeline(pp.KBinsDiscretizer(n_bins=4, encode="onehot-dense"), lm.Ridge()), Xd, yd, False)
onnx_case("kbins_ordinal", pl.make_pipeline(pp.KBinsDiscretizer(n_bins=4, encode="ordinal"), lm.Ridge()), Xd, yd, False)
onnx_case("poly_ridge", pl.make_pipeline(pp.PolynomialFeatures(2), lm.Ridge()), Xi, yi.astype(float), False)
onnx_case("pca_lr", pl.make_pipeline(pp.StandardScaler(), dec.PCA(3), lm.LogisticRegression(max_iter=2000)), Xi, yi, True, **C())
onnx_case("pca_whiten", pl.make_pipeline(dec.PCA(3, whiten=True), lm.Ridge()), Xd, yd, False)
onnx_case("tsvd_ridge", pl.make_pipeline(dec.TruncatedSVD(3), lm.Ridge()), Xd, yd, False)
onnx_case("power_ridge", pl.make_pipeline(pp.PowerTransformer(), lm.Ridge()), Xi, yi.astype(float), False)
onnx_case("varthresh", pl.make_pipeline(fs.VarianceThreshold(0.01), lm.Ridge()), Xd, yd, False)
onnx_case("selectk", pl.make_pipeline(fs.SelectKBest(k=4), lm.LogisticRegression(max_iter=2000)), Xi, yi, True, **C())
onnx_case("calib_iso", calibration.CalibratedClassifierCV(tree.DecisionTreeClassifier(max_depth=3), method="isotonic"), Xb, yb, True, **C())
onnx_case("calib_sig3", calibration.CalibratedClassifierCV(lm.LogisticRegression(max_iter=2000), method="sigmoid"), Xi, yi, True, **C())

# mixed types
pen = pd.DataFrame({
    "num1": rng.normal(size=300), "num2": rng.normal(size=300) * 10,
    "cat1": rng.choice(["a", "b", "c", "d"], size=300), "cat2": rng.choice(["x", "y", "z"], size=300),
})
pen.loc[rng.random(300) < 0.1, "num1"] = np.nan
ypen = (pen["num2"] + (pen["cat1"] == "a") * 5 + rng.normal(size=300) > 0).astype(int)
yreg = pen["num2"] * 2.5 + (pen["cat1"] == "b") * 3.0
num, cat = ["num1", "num2"], ["cat1", "cat2"]
def ct(enc):
    return compose.ColumnTransformer([("n", pl.make_pipeline(impute.SimpleImputer(strategy="median"), pp.StandardScaler()), num), ("c", enc, cat)])
onnx_case("ct_ohe_drop_first", pl.make_pipeline(ct(pp.OneHotEncoder(drop="first", handle_unknown="error")), lm.LogisticRegression()), pen, ypen, True, **C())
onnx_case("ct_ohe_ignore_tree", pl.make_pipeline(ct(pp.OneHotEncoder(handle_unknown="ignore")), tree.DecisionTreeClassifier(max_depth=4)), pen, ypen, True, **C())
onnx_case("ct_ordinal_gbm", pl.make_pipeline(ct(pp.OrdinalEncoder()), en.GradientBoostingRegressor(n_estimators=20)), pen, yreg, False)
onnx_case("ct_ohe_infrequent", pl.make_pipeline(ct(pp.OneHotEncoder(min_frequency=80, handle_unknown="infrequent_if_exist")), lm.Ridge()), pen, yreg, False)
onnx_case("ct_const_impute", pl.make_pipeline(compose.ColumnTransformer([("n", impute.SimpleImputer(strategy="constant", fill_value=-1.0), num), ("c", pp.OneHotEncoder(handle_unknown="ignore"), cat)]), lm.Ridge()), pen, yreg, False)
onnx_case("ct_passthrough", pl.make_pipeline(compose.ColumnTransformer([("c", pp.OneHotEncoder(handle_unknown="ignore"), cat)], remainder="passthrough"), en.HistGradientBoostingRegressor(max_iter=20)), pen, yreg, False)
onnx_case("ct_mean_impute_hgb", pl.make_pipeline(ct(pp.OneHotEncoder(handle_unknown="ignore", sparse_output=False)), en.HistGradientBoostingClassifier(max_iter=20)), pen, ypen, True, **C())

# HGB with native categories
penc = pen.copy()
for c in cat:
    penc[c] = penc[c].astype("category")
def native_cat(name, m, y, cls):
    if ONLY and ONLY not in name:
        return
    try:
        Xn = pen.copy()
        enc = pp.OrdinalEncoder()
        Xn[cat] = enc.fit_transform(pen[cat])
        m.fit(Xn, y)
        onx = to_onnx(m, Xn.to_numpy().astype(np.float32)[:1], **(C() if cls else {}))
        write("onnx", name, onx.SerializeToString(), "onnx", Xn, sk_expected(m, Xn, cls))
    except Exception as e:
        print(f"GENFAIL {name}: {type(e).__name__}: {str(e)[:200]}")
native_cat("hgb_native_cat_reg", en.HistGradientBoostingRegressor(max_iter=20, categorical_features=[2, 3]), yreg, False)
native_cat("hgb_native_cat_clf", en.HistGradientBoostingClassifier(max_iter=20, categorical_features=[2, 3]), ypen, True)

# --- XGBoost native
def xgb_case(name, params, X, y, rounds=20, cls=False, ext="json", dm_kw=None):
    if ONLY and ONLY not in name:
        return
    try:
        dm = xgb.DMatrix(X, y, **(dm_kw or {}))
        b = xgb.train(params, dm, rounds)
        d = OUT / "xgboost" / name
        d.mkdir(parents=True, exist_ok=True)
        b.save_model(str(d / f"model.{ext}"))
        pred = b.predict(xgb.DMatrix(X, **(dm_kw or {})))
        X.to_csv(d / "input.csv", index=False)
        obj = params.get("objective", "")
        if pred.ndim == 2:
            exp = {f"proba_{j}": pred[:, j] for j in range(pred.shape[1])} if "softprob" in obj else {f"prediction_{j}": pred[:, j] for j in range(pred.shape[1])}
        else:
            exp = {"prediction": pred}
        pd.DataFrame(exp).to_csv(d / "expected.csv", index=False, float_format="%.17g")
        (d / "meta.json").write_text(json.dumps({"case": name, "objective": obj}))
    except Exception as e:
        print(f"GENFAIL {name}: {type(e).__name__}: {str(e)[:200]}")

Xdn = Xd.copy(); Xdn.iloc[::7, 2] = np.nan
xgb_case("xgb_ubj", {"objective": "reg:squarederror", "max_depth": 4}, Xdn, yd, ext="ubj")
xgb_case("xgb_sqlog", {"objective": "reg:squaredlogerror"}, Xdn, yd)
xgb_case("xgb_hinge", {"objective": "binary:hinge"}, Xb, yb)
xgb_case("xgb_quantile", {"objective": "reg:quantileerror", "quantile_alpha": 0.8}, Xdn, yd)
xgb_case("xgb_quantile_multi", {"objective": "reg:quantileerror", "quantile_alpha": [0.2, 0.8]}, Xdn, yd)
xgb_case("xgb_cox", {"objective": "survival:cox"}, Xdn, yd)
xgb_case("xgb_aft", {"objective": "survival:aft"}, Xdn, yd, dm_kw=None)
xgb_case("xgb_rank", {"objective": "rank:pairwise"}, Xdn, yd.astype(int) % 5, dm_kw=None)
xgb_case("xgb_gblinear", {"booster": "gblinear", "objective": "reg:squarederror"}, Xd, yd)
xgb_case("xgb_gblinear_nan", {"booster": "gblinear", "objective": "reg:squarederror"}, Xdn, yd)
xgb_case("xgb_gblinear_multi", {"booster": "gblinear", "objective": "multi:softprob", "num_class": 3}, Xi, yi)
xgb_case("xgb_gblinear_logistic", {"booster": "gblinear", "objective": "binary:logistic"}, Xb, yb)
xgb_case("xgb_multi_output_tree", {"tree_method": "hist", "multi_strategy": "multi_output_tree", "objective": "reg:squarederror"}, Xd, np.c_[yd, yd * 0.5], rounds=10)
xgb_case("xgb_multi_target_1pt", {"tree_method": "hist", "objective": "reg:squarederror"}, Xd, np.c_[yd, yd * 0.5], rounds=10)
xgb_case("xgb_lossguide", {"tree_method": "hist", "grow_policy": "lossguide", "max_leaves": 16, "objective": "binary:logistic"}, Xb, yb)
xgb_case("xgb_exact", {"tree_method": "exact", "objective": "binary:logitraw"}, Xb, yb)
xgb_case("xgb_approx_multi", {"tree_method": "approx", "objective": "multi:softprob", "num_class": 3}, Xi, yi)
xgb_case("xgb_multi_softmax", {"objective": "multi:softmax", "num_class": 3}, Xi, yi)
xgb_case("xgb_base_score", {"objective": "reg:squarederror", "base_score": 100.0}, Xd, yd)
xgb_case("xgb_mae", {"objective": "reg:absoluteerror"}, Xd, yd)
# sklearn API
for name, m, X, y in [
    ("xgb_skl_clf", xgb.XGBClassifier(n_estimators=20), Xi, yi),
    ("xgb_skl_reg", xgb.XGBRegressor(n_estimators=20), Xdn, yd),
    ("xgb_skl_rf", xgb.XGBRFClassifier(n_estimators=10), Xb, yb),
]:
    if ONLY and ONLY not in name:
        continue
    try:
        m.fit(X, y)
        d = OUT / "xgboost" / name; d.mkdir(parents=True, exist_ok=True)
        m.save_model(str(d / "model.json"))
        X.to_csv(d / "input.csv", index=False)
        if hasattr(m, "predict_proba"):
            p = m.predict_proba(X); exp = {"label": m.predict(X), **{f"proba_{j}": p[:, j] for j in range(p.shape[1])}}
        else:
            exp = {"prediction": m.predict(X)}
        pd.DataFrame(exp).to_csv(d / "expected.csv", index=False, float_format="%.17g")
        (d / "meta.json").write_text(json.dumps({"case": name}))
    except Exception as e:
        print(f"GENFAIL {name}: {e}")
# xgboost categorical via pandas category
Xc = penc.copy()
xgb_case("xgb_cat_onehot", {"objective": "binary:logistic", "max_cat_to_onehot": 8, "tree_method": "hist"}, Xc, ypen, dm_kw={"enable_categorical": True})
xgb_case("xgb_cat_part", {"objective": "reg:squarederror", "max_cat_to_onehot": 1, "tree_method": "hist"}, Xc, yreg, dm_kw={"enable_categorical": True})

# --- LightGBM native
def lgb_case(name, params, X, y, rounds=20, cat="auto"):
    if ONLY and ONLY not in name:
        return
    try:
        params = {"verbose": -1, "min_data_in_leaf": 5, **params}
        b = lgb.train(params, lgb.Dataset(X, y, categorical_feature=cat), rounds)
        d = OUT / "lightgbm" / name; d.mkdir(parents=True, exist_ok=True)
        b.save_model(str(d / "model.txt"))
        pred = b.predict(X)
        X.to_csv(d / "input.csv", index=False)
        if pred.ndim == 2:
            exp = {f"proba_{j}": pred[:, j] for j in range(pred.shape[1])}
        else:
            exp = {"prediction": pred}
        pd.DataFrame(exp).to_csv(d / "expected.csv", index=False, float_format="%.17g")
        (d / "meta.json").write_text(json.dumps({"case": name, "objective": params.get("objective")}))
    except Exception as e:
        print(f"GENFAIL {name}: {type(e).__name__}: {str(e)[:200]}")

lgb_case("lgb_quantile", {"objective": "quantile", "alpha": 0.7}, Xdn, yd)
lgb_case("lgb_mape", {"objective": "mape"}, Xdn, yd)
lgb_case("lgb_fair", {"objective": "fair"}, Xdn, yd)
lgb_case("lgb_xentropy", {"objective": "cross_entropy"}, Xb, yb)
lgb_case("lgb_xentlambda", {"objective": "cross_entropy_lambda"}, Xb, yb)
lgb_case("lgb_lambdarank", {"objective": "lambdarank"}, Xdn, yd.astype(int) % 5)
lgb_case("lgb_linear_tree", {"objective": "regression", "linear_tree": True}, Xd, yd)
lgb_case("lgb_goss", {"objective": "binary", "data_sample_strategy": "goss"}, Xb, yb)
lgb_case("lgb_dart", {"objective": "regression", "boosting": "dart"}, Xdn, yd)
lgb_case("lgb_multiova3", {"objective": "multiclassova", "num_class": 3}, Xi, yi)
lgb_case("lgb_cat_pandas", {"objective": "binary"}, Xc, ypen)
lgb_case("lgb_use_missing_false", {"objective": "regression", "use_missing": False}, Xdn, yd)
lgb_case("lgb_extra_trees", {"objective": "regression", "extra_trees": True}, Xdn, yd)
lgb_case("lgb_single_leaf", {"objective": "regression", "min_data_in_leaf": 1000}, Xd, yd, rounds=3)
for name, m, X, y in [
    ("lgb_skl_clf", lgb.LGBMClassifier(n_estimators=20, verbose=-1), Xi, yi),
    ("lgb_skl_bin", lgb.LGBMClassifier(n_estimators=20, verbose=-1), Xb, yb),
]:
    if ONLY and ONLY not in name:
        continue
    m.fit(X, y)
    d = OUT / "lightgbm" / name; d.mkdir(parents=True, exist_ok=True)
    m.booster_.save_model(str(d / "model.txt"))
    X.to_csv(d / "input.csv", index=False)
    p = m.predict_proba(X)
    pd.DataFrame({f"proba_{j}": p[:, j] for j in range(p.shape[1])}).to_csv(d / "expected.csv", index=False, float_format="%.17g")
    (d / "meta.json").write_text(json.dumps({"case": name}))
print("generated")
# --- more
lgb_case("lgb_reg_sqrt", {"objective": "regression", "reg_sqrt": True}, Xdn, yd)
lgb_case("lgb_xendcg", {"objective": "rank_xendcg"}, Xdn, yd.astype(int) % 5)
lgb_case("lgb_no_boost_avg", {"objective": "binary", "boost_from_average": False}, Xb, yb)
lgb_case("lgb_multiclass_1class", {"objective": "regression", "max_bin": 15, "num_leaves": 4}, Xdn, yd)
if not ONLY or "xgb_aft" in ONLY:
    try:
        dm = xgb.DMatrix(Xdn); dm.set_float_info("label_lower_bound", yd.to_numpy()); dm.set_float_info("label_upper_bound", yd.to_numpy() + 10)
        b = xgb.train({"objective": "survival:aft", "aft_loss_distribution": "normal"}, dm, 20)
        d = OUT / "xgboost" / "xgb_aft2"; d.mkdir(parents=True, exist_ok=True); b.save_model(str(d / "model.json"))
        Xdn.to_csv(d / "input.csv", index=False)
        pd.DataFrame({"prediction": b.predict(xgb.DMatrix(Xdn))}).to_csv(d / "expected.csv", index=False, float_format="%.17g")
        (d / "meta.json").write_text("{}")
    except Exception as e: print("GENFAIL aft", e)
xgb_case("xgb_rank_ndcg", {"objective": "rank:ndcg"}, Xdn, yd.astype(int) % 5)
xgb_case("xgb_cat_native_json", {"objective": "multi:softprob", "num_class": 3, "tree_method": "hist", "max_cat_to_onehot": 2}, Xc, yreg.astype(int) % 3, dm_kw={"enable_categorical": True})
