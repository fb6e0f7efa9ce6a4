namespace ElmanRnn;

/// <summary>Which of a (layer, direction)'s four tensors a parameter is.</summary>
internal enum ParameterKind { WeightIh, WeightHh, BiasIh, BiasHh }
