namespace ElmanRnn;

/// <summary>A parameter's PyTorch name and shape.</summary>
internal sealed record ParameterSpec(string Name, int Layer, int Direction, ParameterKind Kind, int[] Shape)
{
    public int Count => Shape.Aggregate(1, (a, b) => a * b);

    public string ShapeText => Layout.ShapeText.Format<int>(Shape);
}
