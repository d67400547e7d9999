// Gradient kernels a training step needs, by layer class. Only layers at or after the first
// trainable one are differentiated, so a frozen convolutional prefix needs no conv backprop at
// all; that is what lets the wasm backend (which lacks Conv2DBackpropFilter) train a new head.
const FILTER: Record<string, string[]> = {
  Conv2D: ['Conv2DBackpropFilter'],
  DepthwiseConv2D: ['DepthwiseConv2dNativeBackpropFilter'],
  SeparableConv2D: ['DepthwiseConv2dNativeBackpropFilter', 'Conv2DBackpropFilter'],
};
const INPUT: Record<string, string[]> = {
  Conv2D: ['Conv2DBackpropInput'],
  DepthwiseConv2D: ['DepthwiseConv2dNativeBackpropInput'],
  SeparableConv2D: ['DepthwiseConv2dNativeBackpropInput', 'Conv2DBackpropInput'],
};

export function kernelsForTraining(layers: readonly { className: string }[], trainable: readonly boolean[]): string[] {
  const first = trainable.indexOf(true);
  if (first < 0) return [];
  const need = new Set<string>();
  layers.forEach((l, i) => {
    if (i < first) return;
    if (trainable[i]) for (const k of FILTER[l.className] ?? []) need.add(k);
    if (i > first) for (const k of INPUT[l.className] ?? []) need.add(k);
  });
  return [...need].sort();
}
